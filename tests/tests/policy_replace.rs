//! `Registry::enter_replacing`: latest wins. The holder is cancelled with
//! `Superseded` and its later exit never removes the new entry, including
//! when the two race, and when many replaces race each other.

use std::sync::{Arc, Barrier};

use scoped_cancel::{Cause, EnterError, Registry, Scope};

fn iterations() -> usize {
    scoped_cancel_support::stress_iterations(2_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holder_is_superseded_and_reads_the_cause() {
    let reg = Arc::new(Registry::<u64>::new());
    let old = reg.enter(7).unwrap();
    let old_token = old.token();
    let body = tokio::spawn(old.run(async move {
        std::future::pending::<()>().await;
    }));
    let new = reg.enter_replacing(7).unwrap();
    // Cancelled before `enter_replacing` returned.
    assert_eq!(old_token.cause(), Some(Cause::Superseded));
    let out = body.await.unwrap();
    assert_eq!(out.unwrap_err().cause(), Cause::Superseded);
    // The old guard has dropped (its task ended): the new entry is intact.
    assert!(reg.contains_key(&7));
    assert_eq!(reg.len(), 1);
    assert!(reg.cancel(&7), "the entry under 7 is the new, live scope");
    assert_eq!(new.token().cause(), Some(Cause::Requested));
    drop(new);
    assert!(reg.is_empty());
}

#[test]
fn replace_of_a_free_key_is_a_plain_enter() {
    let reg = Registry::<u64>::new();
    let scope = reg.enter_replacing(1).unwrap();
    assert!(reg.contains_key(&1));
    assert!(matches!(reg.enter(1), Err(EnterError::Occupied(1))));
    let info = &reg.report()[0];
    assert_eq!(info.name(), "Registry::enter_replacing");
    assert_eq!(info.file(), file!());
    drop(scope);
    assert!(reg.is_empty());
}

#[test]
fn an_indexed_token_is_superseded_too() {
    let reg = Registry::<u64>::new();
    let owner = Scope::root();
    let entry = reg.insert(3, owner.token()).unwrap();
    let new = reg.enter_replacing(3).unwrap();
    assert_eq!(owner.token().cause(), Some(Cause::Superseded));
    drop(entry); // the stale index guard removes nothing
    assert!(reg.contains_key(&3));
    drop(new);
    assert!(reg.is_empty());
}

#[tokio::test]
async fn refused_only_while_shutting_down() {
    let reg = Registry::<u64>::new();
    let held = reg.enter(1).unwrap();
    let report = reg.shutdown(std::time::Duration::ZERO);
    assert!(matches!(
        reg.enter_replacing(1),
        Err(EnterError::ShuttingDown(1))
    ));
    assert!(matches!(
        reg.enter_replacing(2),
        Err(EnterError::ShuttingDown(2))
    ));
    // The refused replace left the holder alone (cancelled by shutdown only).
    assert_eq!(held.token().cause(), Some(Cause::Shutdown));
    drop(held);
    assert!(report.await.is_clean());
    reg.reopen();
    let again = reg.enter_replacing(1).unwrap();
    drop(again);
}

/// A replace racing the holder's own exit: whichever runs first, the key
/// ends up held by the replacement, live, and the old scope is cancelled
/// (`ScopeExited` if it left first, `Superseded` if it was replaced first).
#[test]
fn replace_racing_the_holders_exit() {
    let reg = Arc::new(Registry::<u64>::new());
    let (mut exited_first, mut replaced_first) = (0, 0);
    for _ in 0..iterations() {
        let old = reg.enter(9).unwrap();
        let old_token = old.token();
        let barrier = Arc::new(Barrier::new(2));
        let leaver = {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                drop(old);
            })
        };
        barrier.wait();
        let new = reg.enter_replacing(9).unwrap();
        leaver.join().unwrap();
        assert!(!new.is_cancelled());
        assert!(reg.contains_key(&9), "the old exit removed the new entry");
        assert_eq!(reg.len(), 1);
        match old_token.cause() {
            Some(Cause::ScopeExited) => exited_first += 1,
            Some(Cause::Superseded) => replaced_first += 1,
            other => panic!("old scope ended with {other:?}"),
        }
        drop(new);
        assert!(reg.is_empty());
    }
    println!("exited first {exited_first}, replaced first {replaced_first}");
    assert!(
        exited_first > 0 && replaced_first > 0,
        "the race never went both ways: exited first {exited_first}, replaced first {replaced_first}"
    );
}

/// Many replaces of one key at once: exactly one holder at the end, the
/// one the registry holds; every other is cancelled with `Superseded`.
fn replaces_race(threads: usize) {
    let reg = Arc::new(Registry::<u64>::new());
    let mut winners = vec![0usize; threads];
    for _ in 0..iterations() / threads {
        let barrier = Arc::new(Barrier::new(threads));
        let racers: Vec<_> = (0..threads)
            .map(|_| {
                let (reg, barrier) = (reg.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    reg.enter_replacing(5).unwrap()
                })
            })
            .collect();
        let scopes: Vec<Scope> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let live: Vec<usize> = (0..threads)
            .filter(|&i| !scopes[i].is_cancelled())
            .collect();
        assert_eq!(live.len(), 1, "exactly one holder at the end");
        for (i, scope) in scopes.iter().enumerate() {
            if i != live[0] {
                assert_eq!(scope.token().cause(), Some(Cause::Superseded));
            }
        }
        // The live one is the registry's entry: cancelling the key hits it.
        assert!(reg.cancel(&5));
        assert_eq!(scopes[live[0]].token().cause(), Some(Cause::Requested));
        winners[live[0]] += 1;
        drop(scopes);
        assert!(reg.is_empty());
    }
    println!("winners per thread: {winners:?}");
    assert!(
        winners.iter().filter(|&&w| w > 0).count() > 1,
        "the same thread always won: {winners:?}"
    );
}

#[test]
fn two_replaces_racing_each_other() {
    replaces_race(2);
}

#[test]
fn many_replaces_racing_each_other() {
    replaces_race(6);
}

/// Bodies that are running, each with its call's token: at most one of them
/// may hold a live (un-cancelled) token at any moment.
#[derive(Default)]
struct Running(std::sync::Mutex<Vec<(usize, scoped_cancel::Token)>>);

/// Registered while a body runs; removed when the body is dropped.
struct InBody {
    running: Arc<Running>,
    call: usize,
}

impl InBody {
    fn enter(running: Arc<Running>, call: usize) -> InBody {
        let token = scoped_cancel::Token::current().expect("inside the call's scope");
        let mut list = running.0.lock().unwrap();
        list.push((call, token));
        let live: Vec<usize> = list
            .iter()
            .filter(|(_, t)| !t.is_cancelled())
            .map(|(c, _)| *c)
            .collect();
        assert!(
            live.len() <= 1,
            "calls {live:?} run at once with live tokens"
        );
        drop(list);
        InBody { running, call }
    }
}

impl Drop for InBody {
    fn drop(&mut self) {
        let mut list = self.running.0.lock().unwrap();
        list.retain(|(c, _)| *c != self.call);
    }
}

/// Replaces racing on a multi-thread runtime, each body raced against its
/// token: every superseded call returns `Superseded`; whenever a body runs,
/// every call entered before it is already cancelled and no other running
/// body holds a live token (one live holder per key); and every superseded
/// body is dropped once its task sees the cancellation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_calls_return_superseded() {
    const CALLS: usize = 200;
    let reg = Arc::new(Registry::<u64>::new());
    let running: Arc<Running> = Arc::default();
    let entered: Arc<std::sync::Mutex<Vec<scoped_cancel::Token>>> = Arc::default();
    let calls: Vec<_> = (0..CALLS)
        .map(|call| {
            let scope = reg.enter_replacing(1).unwrap();
            entered.lock().unwrap().push(scope.token());
            let (entered, running) = (entered.clone(), running.clone());
            tokio::spawn(scope.run(async move {
                let _in_body = InBody::enter(running, call);
                let earlier = entered.lock().unwrap()[..call].to_vec();
                assert!(
                    earlier.iter().all(|t| t.is_cancelled()),
                    "call {call} runs while an earlier call is live"
                );
                std::future::pending::<()>().await;
            }))
        })
        .collect();
    // Only the last one is left live: cancel it, then every call has ended.
    assert!(reg.cancel(&1));
    let mut superseded = 0;
    for call in calls {
        match call.await.unwrap().unwrap_err().cause() {
            Cause::Superseded => superseded += 1,
            Cause::Requested => {}
            other => panic!("unexpected cause {other:?}"),
        }
    }
    assert_eq!(superseded, CALLS - 1);
    assert!(reg.is_empty());
    assert!(
        running.0.lock().unwrap().is_empty(),
        "a body outlived its call"
    );
}
