//! The mutation loop: seeds, mutations, panics caught and saved, executions counted.

use crate::targets::Target;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Outcome {
    pub executions: u64,
    pub elapsed: Duration,
    pub pool: usize,
    pub failures: usize,
}

/// xorshift64*: deterministic per run (seeded from the clock), no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const MAX_INPUT: usize = 64 * 1024;
const MAX_POOL: usize = 2000;

fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>], dict: &[&[u8]]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                v.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                v.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let chunk = v[i..i + n].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            5 if !dict.is_empty() => {
                let token = dict[rng.below(dict.len())];
                let at = rng.below(len + 1);
                v.splice(at..at, token.iter().copied());
            }
            6 if !pool.is_empty() => {
                let other = &pool[rng.below(pool.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            7 if len >= 4 => {
                // Length fields: BSON and OP_MSG lengths are little-endian i32s.
                let edge = [0i32, -1, 1, 4, 5, 16, 21, i32::MAX, i32::MIN, len as i32];
                let i = rng.below(len - 3);
                v[i..i + 4].copy_from_slice(&edge[rng.below(edge.len())].to_le_bytes());
            }
            _ => {
                let i = rng.below(len + 1);
                v.truncate(i);
            }
        }
    }
    v.truncate(MAX_INPUT);
    v
}

fn load(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut paths: Vec<_> = entries.map_while(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }
    out
}

pub fn write_seeds(corpus: &Path, target: &Target) {
    let dir = corpus.join(target.name);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, seed) in (target.seeds)().iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i:02}")), seed).unwrap();
    }
}

pub fn run(root: &Path, target: &Target, budget: Duration) -> Outcome {
    let start = Instant::now();
    let mut pool = load(&root.join("corpus").join(target.name));
    pool.extend((target.seeds)());
    let mut seen: HashSet<u64> = HashSet::new();
    let mut rng = Rng::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7),
    );
    // Silence the default hook: a caught panic is reported once, with its input saved.
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut executions = 0u64;
    let mut failures = 0usize;
    let mut i = 0usize;
    while start.elapsed() < budget {
        // The seeds themselves first, then mutations.
        let input = if i < pool.len() {
            pool[i].clone()
        } else {
            let base = &pool[rng.below(pool.len())];
            mutate(&mut rng, base, &pool, target.dict)
        };
        i += 1;
        executions += 1;
        match catch_unwind(AssertUnwindSafe(|| (target.run)(&input))) {
            Ok(signature) => {
                if seen.insert(signature) && pool.len() < MAX_POOL {
                    pool.push(input);
                }
            }
            Err(payload) => {
                failures += 1;
                let why = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let dir = root.join("artifacts");
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("{}-{executions}", target.name));
                let _ = std::fs::write(&path, &input);
                eprintln!(
                    "fuzz {}: FAILED on {} ({} bytes): {why}",
                    target.name,
                    path.display(),
                    input.len()
                );
                if failures >= 5 {
                    break;
                }
            }
        }
    }
    std::panic::set_hook(quiet);
    Outcome {
        executions,
        elapsed: start.elapsed(),
        pool: pool.len(),
        failures,
    }
}
