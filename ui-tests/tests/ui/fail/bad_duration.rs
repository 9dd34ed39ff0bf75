use scoped_cancel::scoped_cancel;

#[scoped_cancel(timeout = "1.5s")]
async fn fraction() {}

#[scoped_cancel(timeout = "5 sec")]
async fn unknown_unit() {}

#[scoped_cancel(timeout = "30s1m")]
async fn out_of_order() {}

#[scoped_cancel(timeout = "99999999999999999999h")]
async fn too_large() {}

#[scoped_cancel(timeout = "")]
async fn empty() {}

fn main() {}
