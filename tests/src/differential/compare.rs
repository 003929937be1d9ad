//! Step-by-step comparison of two transcripts, and a readable report of every difference.

use std::fmt::Write as _;

use super::runner::{StepRecord, Transcript};

/// One step whose normalised frames differ between the reference and the subject.
#[derive(Debug, Clone)]
pub struct Difference {
    pub index: usize,
    pub actor: String,
    pub action: String,
    pub reference: Vec<String>,
    pub subject: Vec<String>,
}

/// Every step where `subject`'s lines differ from `reference`'s (all of them, not only
/// the first). A missing step on either side counts as a difference.
pub fn compare(reference: &Transcript, subject: &Transcript) -> Vec<Difference> {
    let mut out = Vec::new();
    let empty = |r: &StepRecord| StepRecord {
        index: r.index,
        actor: r.actor.clone(),
        action: r.action.clone(),
        lines: vec!["(step missing)".to_owned()],
    };
    for i in 0..reference.len().max(subject.len()) {
        let (a, b) = match (reference.get(i), subject.get(i)) {
            (Some(a), Some(b)) => (a.clone(), b.clone()),
            (Some(a), None) => (a.clone(), empty(a)),
            (None, Some(b)) => (empty(b), b.clone()),
            (None, None) => unreachable!("index below the longer length"),
        };
        if a.lines != b.lines || a.action != b.action {
            out.push(Difference {
                index: i,
                actor: a.actor,
                action: a.action,
                reference: a.lines,
                subject: b.lines,
            });
        }
    }
    out
}

/// A report naming, for every difference, the step, the request and both sides' lines
/// (lines present on one side only are marked `-` for the reference and `+` for the
/// subject; shared lines are indented).
pub fn report(differences: &[Difference], reference_name: &str, subject_name: &str) -> String {
    let mut out = format!(
        "{} step(s) differ ({reference_name} = reference, {subject_name} = subject):\n",
        differences.len()
    );
    for d in differences {
        let _ = writeln!(out, "\n=== step {} by {}: {}", d.index, d.actor, d.action);
        let _ = writeln!(out, "  {reference_name}:");
        for line in &d.reference {
            let mark = if d.subject.contains(line) { ' ' } else { '-' };
            let _ = writeln!(out, "   {mark} {line}");
        }
        let _ = writeln!(out, "  {subject_name}:");
        for line in &d.subject {
            let mark = if d.reference.contains(line) { ' ' } else { '+' };
            let _ = writeln!(out, "   {mark} {line}");
        }
    }
    out
}

/// The whole transcript as text (for saving next to a failure).
pub fn render(transcript: &Transcript) -> String {
    let mut out = String::new();
    for step in transcript {
        let _ = writeln!(
            out,
            "step {} by {}: {}",
            step.index, step.actor, step.action
        );
        for line in &step.lines {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}
