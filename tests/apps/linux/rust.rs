// Rust std: args, env, files, collections, exit code.
use std::collections::BTreeMap;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("rust args: {:?}", &args[1..]);
    println!("rust env FOO={}", std::env::var("FOO").unwrap_or_default());
    match std::fs::read_to_string("/data/hello.txt") {
        Ok(s) => print!("rust file: {}", s),
        Err(e) => println!("rust file error: {}", e),
    }
    let mut m = BTreeMap::new();
    for i in 0..1000u64 { m.insert(i * 7 % 1000, i); }
    println!("rust map: {}", m.values().sum::<u64>());
    std::process::exit(4);
}
