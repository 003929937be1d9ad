//! Linearizability of one key's history: is there a total order of the operations,
//! consistent with real time (an operation that returned before another was called
//! comes first), in which every operation's result is what the sequential model gives?
//!
//! The search is Wing & Gong's with Lowe's memoisation, as Porcupine does it: walk the
//! calls and returns in time order; any operation called before the first pending
//! return may be linearized next if the model allows its result; remember every
//! (set of linearized operations, state) pair already explored so no configuration is
//! searched twice; backtrack when stuck. An operation whose outcome is unknown (the
//! client lost its connection) has no return: it may take effect at any point after
//! its call, or never (which is the same as at the very end, where nothing observes it).

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification.
pub trait Model {
    type State: Clone + Eq + Hash + Debug;
    type Input: Debug;
    type Output: Debug;

    fn init(&self) -> Self::State;

    /// The state after `input` is applied to `state`, if it can return `output` there
    /// (`None` for `output`: the outcome is unknown, any result is allowed).
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;
}

/// One operation of a history.
#[derive(Debug, Clone)]
pub struct Operation<I, O> {
    /// The session (or client) that issued it, for the report.
    pub client: u64,
    /// When it was called.
    pub call: u64,
    /// When it returned and what it returned; `None` if the outcome is unknown.
    pub returned: Option<(u64, O)>,
    pub input: I,
}

/// Why a history is not linearizable: the longest prefix of a linearization found, and
/// the operations none of the orders could place after it.
#[derive(Debug)]
pub struct Violation {
    pub operations: usize,
    pub longest_prefix: Vec<usize>,
    pub explored: usize,
    pub details: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not linearizable: {} operations, at most {} placed in order ({} configurations explored); {}",
            self.operations,
            self.longest_prefix.len(),
            self.explored,
            self.details
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Call,
    Return,
}

/// A set of operation indexes, hashable for the memo.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

/// Searches at most this many configurations before giving up (reported as an error:
/// a history too hard to decide is not a pass).
pub const MAX_EXPLORED: usize = 5_000_000;

pub fn check<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
) -> Result<(), Violation> {
    let n = history.len();
    // Time order; at equal times calls first (the operations then overlap, which is
    // the permissive reading of a tie).
    let mut events: Vec<(u64, Event, usize)> = Vec::with_capacity(2 * n);
    for (i, op) in history.iter().enumerate() {
        events.push((op.call, Event::Call, i));
        if let Some((at, _)) = &op.returned {
            events.push((*at, Event::Return, i));
        }
    }
    events.sort_by_key(|&(at, kind, i)| (at, kind, i));

    let mut state = model.init();
    let mut done = Bits::new(n);
    let mut placed = 0usize;
    let mut memo: HashSet<(Bits, M::State)> = HashSet::new();
    // (operation placed, the state before it, the event index it was found at)
    let mut stack: Vec<(usize, M::State, usize)> = Vec::new();
    let mut longest: Vec<usize> = Vec::new();
    let mut from = 0usize;
    loop {
        if placed == n {
            return Ok(());
        }
        let mut found = None;
        for (at, &(_, kind, i)) in events.iter().enumerate().skip(from) {
            if done.get(i) {
                continue;
            }
            if kind == Event::Return {
                break;
            }
            let op = &history[i];
            let output = op.returned.as_ref().map(|(_, o)| o);
            if let Some(next) = model.step(&state, &op.input, output) {
                let mut with = done.clone();
                with.set(i);
                if memo.insert((with, next.clone())) {
                    found = Some((at, i, next));
                    break;
                }
            }
        }
        if memo.len() > MAX_EXPLORED {
            return Err(Violation {
                operations: n,
                longest_prefix: longest,
                explored: memo.len(),
                details: "the search gave up (history too large to decide)".into(),
            });
        }
        match found {
            Some((at, i, next)) => {
                stack.push((i, std::mem::replace(&mut state, next), at));
                done.set(i);
                placed += 1;
                from = 0;
                if stack.len() > longest.len() {
                    longest = stack.iter().map(|(i, _, _)| *i).collect();
                }
            }
            None => {
                let Some((i, before, at)) = stack.pop() else {
                    let stuck: Vec<String> = events
                        .iter()
                        .filter(|(_, kind, i)| *kind == Event::Return && !longest.contains(i))
                        .take(3)
                        .map(|(_, _, i)| format!("#{i} {:?}", history[*i]))
                        .collect();
                    return Err(Violation {
                        operations: n,
                        explored: memo.len(),
                        details: format!(
                            "after the longest prefix, none of these fits: {}",
                            stuck.join("; ")
                        ),
                        longest_prefix: longest,
                    });
                };
                done.clear(i);
                placed -= 1;
                state = before;
                from = at + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register of one integer: write(v), read() -> v.
    struct Reg;

    #[derive(Debug, Clone)]
    enum In {
        Write(u32),
        Read,
    }

    impl Model for Reg {
        type State = u32;
        type Input = In;
        type Output = u32;
        fn init(&self) -> u32 {
            0
        }
        fn step(&self, s: &u32, input: &In, out: Option<&u32>) -> Option<u32> {
            match input {
                In::Write(v) => Some(*v),
                In::Read => (out.is_none() || out == Some(s)).then_some(*s),
            }
        }
    }

    fn op(call: u64, ret: u64, input: In, out: u32) -> Operation<In, u32> {
        Operation {
            client: 0,
            call,
            returned: Some((ret, out)),
            input,
        }
    }

    #[test]
    fn overlapping_operations_may_be_ordered_either_way() {
        // A read overlapping a write may see the old or the new value.
        let h = [op(0, 10, In::Write(1), 0), op(5, 6, In::Read, 0)];
        assert!(check(&Reg, &h).is_ok());
        let h = [op(0, 10, In::Write(1), 0), op(5, 6, In::Read, 1)];
        assert!(check(&Reg, &h).is_ok());
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_caught() {
        let h = [op(0, 1, In::Write(1), 0), op(2, 3, In::Read, 0)];
        let err = check(&Reg, &h).unwrap_err();
        assert_eq!(err.operations, 2);
        assert_eq!(err.longest_prefix, vec![0]);
    }

    #[test]
    fn reads_that_go_back_in_time_are_caught() {
        // Two writes in sequence, a concurrent reader sees 2 then 1.
        let h = [
            op(0, 1, In::Write(1), 0),
            op(2, 10, In::Write(2), 0),
            op(3, 4, In::Read, 2),
            op(5, 6, In::Read, 1),
        ];
        assert!(check(&Reg, &h).is_err());
    }

    #[test]
    fn an_unknown_write_may_or_may_not_take_effect() {
        let unknown = Operation {
            client: 1,
            call: 0,
            returned: None,
            input: In::Write(7),
        };
        let h = [unknown.clone(), op(5, 6, In::Read, 0)];
        assert!(check(&Reg, &h).is_ok());
        let h = [unknown.clone(), op(5, 6, In::Read, 7)];
        assert!(check(&Reg, &h).is_ok());
        // ... but not before it was called.
        let late = Operation {
            call: 10,
            ..unknown
        };
        let h = [op(5, 6, In::Read, 7), late];
        assert!(check(&Reg, &h).is_err());
    }

    #[test]
    fn many_concurrent_writers_are_decided_quickly() {
        // 12 overlapping writes and reads seeing each value once: the memo keeps the
        // search small.
        let mut h: Vec<Operation<In, u32>> =
            (1..=12).map(|v| op(0, 100, In::Write(v), 0)).collect();
        for v in 1..=12 {
            h.push(op(u64::from(v), u64::from(v), In::Read, v));
        }
        assert!(check(&Reg, &h).is_ok());
        h.push(op(200, 201, In::Read, 3));
        assert!(check(&Reg, &h).is_err());
    }
}
