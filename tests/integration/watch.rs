//! `ferret watch usage` against the loopback OpenAI organization: hourly usage seeded per key
//! (a daily and weekly shape with noise), a fixed `--now`, and a state file per test. Each
//! anomaly the issue names (a spike, a new model, an off-hours burst, an idle key waking up)
//! is found; a steady key and a key with too little history are not alarmed; the state makes
//! the second pass read only new hours; a hook hears `usage_anomaly`.

use std::path::Path;

use serde_json::Value;

use crate::support::openai_org::OpenAiOrg;
use crate::support::openai_usage::Used;
use crate::support::{self, Run, Shape};

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
/// Monday 2026-11-30 12:20 UTC: with the default 15-minute lag, hours up to 12:00 are read.
const NOW: i64 = 1_796_040_000 + 20 * 60;

/// A mock organization with an admin key, and a private directory for state and config.
struct Watch {
    org: OpenAiOrg,
    admin: String,
    project: String,
    private: tempfile::TempDir,
}

impl Watch {
    fn new() -> Self {
        let org = OpenAiOrg::start();
        let admin = Shape::Admin.key();
        org.add_admin_key(&admin, "ferret");
        let project = org.add_project("Production");
        Watch {
            org,
            admin,
            project,
            private: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// Seeds `requests` of `model` for `key` in the hour starting at `at`.
    fn use_key(&self, key: &str, model: &'static str, at: i64, requests: u64) {
        if requests == 0 {
            return;
        }
        self.org.add_usage(Used {
            kind: "completions",
            key_id: key.to_string(),
            project_id: self.project.clone(),
            model,
            at: at + 60,
            requests,
            input_tokens: requests * 400,
            output_tokens: requests * 100,
            cached_tokens: 0,
            cost_usd: 0.0,
        });
    }

    /// A key used every hour of `days` days before `until`, shaped by `shape(hour)`.
    fn seed(&self, key: &str, (from, until): (i64, i64), shape: impl Fn(i64) -> u64) {
        let mut at = from / HOUR * HOUR;
        while at < until {
            self.use_key(key, "gpt-4o-mini", at, shape(at));
            at += HOUR;
        }
    }

    fn config(&self, text: &str) -> String {
        let path = self.private.path().join("ops.toml");
        std::fs::write(&path, text).expect("config");
        path.to_string_lossy().into_owned()
    }

    /// `ferret watch usage --format json --now NOW ARGS`.
    fn run(&self, now: i64, args: &[&str]) -> Run {
        self.run_as(now, "json", args)
    }

    fn run_as(&self, now: i64, format: &str, args: &[&str]) -> Run {
        let state = self.private.path().join("state/watch.sqlite");
        let mut command = support::isolated_ferret(self.private.path(), self.private.path());
        command
            .args(["watch", "usage", "--format", format, "--now"])
            .arg(now.to_string())
            .arg("--state")
            .arg(&state)
            .args(args)
            .env("OPENAI_ADMIN_KEY", &self.admin)
            .env("FERRET_OPENAI_API_BASE", self.org.uri());
        let run = Run::from(command.output().expect("run ferret"));
        run.expect_no_panic();
        run
    }
}

/// A deterministic noise factor in 0.8..1.2 for a key's hour.
fn noise(seed: u64, at: i64) -> f64 {
    let mut x = seed ^ (at as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    0.8 + (x % 1000) as f64 / 2500.0
}

/// Busy on weekday working hours, quieter evenings, a trickle at night, a third at weekends.
fn office_shape(seed: u64, base: f64) -> impl Fn(i64) -> u64 {
    move |at| {
        let hour = at.rem_euclid(DAY) / HOUR;
        let weekday = (at.div_euclid(DAY) + 4).rem_euclid(7);
        let daily = match hour {
            8..=17 => 1.0,
            18..=22 => 0.3,
            _ => 0.05,
        };
        let weekly = if weekday == 0 || weekday == 6 {
            0.3
        } else {
            1.0
        };
        (base * daily * weekly * noise(seed, at)).round() as u64
    }
}

fn anomalies(run: &Run) -> Vec<Value> {
    run.json()["anomalies"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn key_report(run: &Run, key: &str) -> Value {
    let json = run.json();
    json["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["key_id"] == key).cloned())
        .unwrap_or_else(|| panic!("no report for {key}; {run}"))
}

fn kinds_of(run: &Run, key: &str) -> Vec<String> {
    anomalies(run)
        .iter()
        .filter(|a| a["key_id"] == key)
        .map(|a| a["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The last complete hour read at NOW (11:00 on the Monday).
const LAST_HOUR: i64 = NOW / HOUR * HOUR - HOUR;

#[test]
fn a_spike_in_requests_is_an_anomaly_with_its_figures() {
    let watch = Watch::new();
    watch.seed(
        "key_spike",
        (NOW - 21 * DAY, LAST_HOUR),
        office_shape(1, 100.0),
    );
    watch.use_key("key_spike", "gpt-4o-mini", LAST_HOUR, 2500);
    let run = watch.run(NOW, &[]);
    run.expect_code(1);
    let found = anomalies(&run);
    let spike = found
        .iter()
        .find(|a| a["key_id"] == "key_spike" && a["kind"] == "spike")
        .unwrap_or_else(|| panic!("no spike; {run}"));
    assert_eq!(spike["hour"], "2026-11-30T11:00:00Z", "{run}");
    assert_eq!(spike["severity"], "critical", "{run}");
    let requests = spike["figures"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["metric"] == "requests"))
        .unwrap_or_else(|| panic!("no requests figure; {run}"));
    assert_eq!(requests["value"], 2500.0);
    let median = requests["median"].as_f64().unwrap();
    assert!((60.0..140.0).contains(&median), "{run}");
    assert!(requests["threshold"].as_f64().unwrap() < 2500.0);
    assert_eq!(found.len(), 1, "only the spike: {run}");
}

#[test]
fn first_use_of_a_model_the_key_never_used_is_an_anomaly() {
    let watch = Watch::new();
    watch.seed("key_models", (NOW - 21 * DAY, NOW), office_shape(2, 100.0));
    watch.use_key("key_models", "o1-pro", LAST_HOUR - 2 * HOUR, 4);
    let run = watch.run(NOW, &[]);
    run.expect_code(1);
    let found = anomalies(&run);
    assert_eq!(found.len(), 1, "{run}");
    assert_eq!(found[0]["kind"], "new_model");
    assert_eq!(found[0]["model"], "o1-pro");
    assert_eq!(found[0]["hour"], "2026-11-30T09:00:00Z");
}

#[test]
fn a_burst_at_hours_the_key_is_never_used_is_an_anomaly() {
    let watch = Watch::new();
    // Working hours on weekdays only: nothing at night, nothing at weekends.
    let shape = office_shape(3, 100.0);
    watch.seed("key_office", (NOW - 21 * DAY, NOW), |at| {
        let hour = at.rem_euclid(DAY) / HOUR;
        let weekday = (at.div_euclid(DAY) + 4).rem_euclid(7);
        match (hour, weekday) {
            (8..=17, 1..=5) => shape(at),
            _ => 0,
        }
    });
    let three_am = NOW / DAY * DAY + 3 * HOUR;
    watch.use_key("key_office", "gpt-4o-mini", three_am, 300);
    let run = watch.run(NOW, &[]);
    run.expect_code(1);
    let found = anomalies(&run);
    let off = found
        .iter()
        .find(|a| a["kind"] == "off_hours")
        .unwrap_or_else(|| panic!("no off-hours anomaly; {run}"));
    assert_eq!(off["hour"], "2026-11-30T03:00:00Z");
    assert_eq!(off["figures"][0]["value"], 300.0);
    assert_eq!(off["figures"][0]["median"], 0.0);
    // The working hours of the same day are not off hours.
    assert!(
        found.iter().all(|a| a["hour"] == "2026-11-30T03:00:00Z"),
        "{run}"
    );
}

#[test]
fn an_idle_key_waking_up_is_an_anomaly() {
    let watch = Watch::new();
    // Used for a week, then idle for three weeks.
    watch.seed(
        "key_idle",
        (NOW - 28 * DAY, NOW - 21 * DAY),
        office_shape(4, 50.0),
    );
    watch.use_key("key_idle", "gpt-4o-mini", LAST_HOUR - HOUR, 120);
    let run = watch.run(NOW, &[]);
    run.expect_code(1);
    let found = anomalies(&run);
    assert_eq!(kinds_of(&run, "key_idle"), ["idle_wakeup"], "{run}");
    assert_eq!(found[0]["hour"], "2026-11-30T10:00:00Z");
    assert!(found[0]["idle_days"].as_f64().unwrap() >= 20.0, "{run}");
    assert_eq!(found[0]["severity"], "critical");
}

#[test]
fn a_steady_key_with_daily_and_weekly_shape_raises_no_alarm_over_a_week() {
    let watch = Watch::new();
    watch.seed("key_steady", (NOW - 35 * DAY, NOW), office_shape(5, 200.0));
    watch.seed("key_small", (NOW - 35 * DAY, NOW), office_shape(6, 8.0));
    // A first pass a week ago, then one pass judging the whole last week.
    watch.run(NOW - 7 * DAY, &[]).expect_code(0);
    let run = watch.run(NOW, &[]);
    run.expect_code(0);
    assert!(anomalies(&run).is_empty(), "{run}");
    for key in ["key_steady", "key_small"] {
        let report = key_report(&run, key);
        assert_eq!(report["status"], "ok", "{run}");
        assert!(report["hours_judged"].as_u64().unwrap() > 100, "{run}");
    }
}

#[test]
fn a_key_with_too_little_history_is_reported_as_such_and_never_alarmed() {
    let watch = Watch::new();
    // Three days old, then a burst of a new model: nothing to judge it against yet.
    watch.seed("key_new", (NOW - 3 * DAY, NOW), |_| 10);
    watch.use_key("key_new", "gpt-4-turbo", LAST_HOUR, 5000);
    let run = watch.run_as(NOW, "text", &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("0 anomalies"), "{run}");
    assert!(
        run.stdout
            .contains("key key_new: not enough history (3 days seen"),
        "{run}"
    );
}

#[test]
fn the_state_persists_and_the_second_pass_reads_only_new_hours() {
    let watch = Watch::new();
    watch.seed("key_kept", (NOW - 30 * DAY, NOW), office_shape(7, 100.0));
    // Small pages: every page must be followed.
    watch.org.set_usage_page_size(50);
    let first = watch.run(NOW - 2 * DAY, &[]);
    first.expect_code(0);
    assert_eq!(first.json()["first_run"], true);
    let asked_first = watch.org.requests().len();
    watch.use_key("key_kept", "gpt-4o-mini", LAST_HOUR, 3000);
    let second = watch.run(NOW, &[]);
    second.expect_code(1);
    let json = second.json();
    assert_eq!(json["first_run"], false);
    assert_eq!(json["read_from"], "2026-11-28T12:00:00Z", "{second}");
    assert_eq!(json["hours_read"], 48);
    assert_eq!(kinds_of(&second, "key_kept"), ["spike"], "{second}");
    let requests = watch.org.requests();
    let usage: Vec<_> = requests[asked_first..]
        .iter()
        .filter(|r| r.path.starts_with("/v1/organization/usage/"))
        .collect();
    assert!(!usage.is_empty());
    for request in &usage {
        let query = &request.query;
        assert!(query.contains("bucket_width=1h"), "{query}");
        assert!(query.contains("group_by[]=api_key_id"), "{query}");
        assert!(
            query.contains(&format!("start_time={}", (NOW - 2 * DAY) / HOUR * HOUR)),
            "the second pass starts where the first ended: {query}"
        );
    }
    // 48 hours in pages of 50 buckets: one page per endpoint; the first pass read 28 days.
    assert!(
        requests[..asked_first]
            .iter()
            .any(|r| r.query.contains("page="))
    );
    assert_eq!(usage.len(), 2, "{usage:?}");
}

#[test]
fn a_hook_hears_usage_anomaly_with_the_figures() {
    let watch = Watch::new();
    watch.seed(
        "key_hooked",
        (NOW - 21 * DAY, LAST_HOUR),
        office_shape(8, 100.0),
    );
    watch.use_key("key_hooked", "gpt-4o-mini", LAST_HOUR, 4000);
    let events = watch.private.path().join("events.jsonl");
    let script = watch.private.path().join("hook.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat >> '{}'\necho >> '{}'\n",
            events.display(),
            events.display()
        ),
    )
    .unwrap();
    make_executable(&script);
    let config = watch.config(&format!(
        "[watch]\nspike_ratio = 4.0\n\n[[hooks]]\ntype = \"command\"\nargv = [\"{}\"]\nevents = [\"usage_anomaly\"]\n",
        script.display()
    ));
    let run = watch.run(NOW, &["--config", &config]);
    run.expect_code(1);
    let text = std::fs::read_to_string(&events).unwrap_or_else(|_| panic!("no event; {run}"));
    let event: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(event["event"], "usage_anomaly");
    assert_eq!(event["key_id"], "key_hooked");
    assert_eq!(event["kind"], "spike");
    assert_eq!(event["provider"], "openai");
    assert_eq!(event["figures"][0]["value"], 4000.0);
    assert!(event["figures"][0]["median"].as_f64().unwrap() > 0.0);
    assert!(
        !text.contains(&watch.admin),
        "the admin key stays out of events"
    );
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn revoke_on_critical_rotates_the_abused_key_and_leaves_a_warned_one() {
    let watch = Watch::new();
    let abused = Shape::Project74.key();
    let abused_id = watch
        .org
        .add_user_key(&watch.project, &abused, NOW - 60 * DAY);
    let warned = Shape::Project74.key();
    let warned_id = watch
        .org
        .add_user_key(&watch.project, &warned, NOW - 60 * DAY);
    watch.seed(
        &abused_id,
        (NOW - 21 * DAY, LAST_HOUR),
        office_shape(1, 100.0),
    );
    watch.use_key(&abused_id, "gpt-4o-mini", LAST_HOUR, 2500);
    watch.seed(&warned_id, (NOW - 21 * DAY, NOW), office_shape(2, 100.0));
    watch.use_key(&warned_id, "o1-pro", LAST_HOUR - 2 * HOUR, 4);
    // A command hook takes the replacement key (what `keys rotate` delivers through).
    let events = watch.private.path().join("events.jsonl");
    let script = format!(
        "cat >> '{}'; echo >> '{}'",
        events.display(),
        events.display()
    );
    let config = watch.config(&format!(
        "[watch]\nrevoke_on = \"critical\"\n\n[rotation]\nenabled = true\n\n[[hooks]]\n\
         type = \"command\"\nevents = [\"rotated\"]\nargv = [\"sh\", \"-c\", {}]\n",
        serde_json::to_string(&script).expect("a string")
    ));
    let ledger = watch.private.path().join("ledger.sqlite");
    let ledger = ledger.to_str().expect("UTF-8 path");
    let run = watch.run(NOW, &["--config", &config, "--ledger", ledger]);
    run.expect_code(1);
    run.expect_key_hidden(&abused).expect_key_hidden(&warned);
    let kinds: Vec<(String, String)> = anomalies(&run)
        .iter()
        .map(|a| (a["key_id"].to_string(), a["severity"].to_string()))
        .collect();
    assert_eq!(kinds.len(), 2, "{run}");
    let rotations = run.json()["rotations"].clone();
    let rotations = rotations.as_array().expect("rotations");
    assert_eq!(rotations.len(), 1, "only the critical one: {run}");
    assert_eq!(rotations[0]["key_id"], abused_id.as_str());
    assert_eq!(rotations[0]["revocation"]["status"], "revoked", "{run}");
    assert!(!watch.org.key_is_live(&abused), "{run}");
    assert!(watch.org.key_is_live(&warned), "{run}");
    // The replacement was delivered, and it works.
    let delivered = std::fs::read_to_string(&events).expect("the hook ran");
    let replacement = watch.org.created_key_values();
    assert_eq!(replacement.len(), 1, "{delivered}");
    assert!(delivered.contains(&replacement[0]));
    assert!(watch.org.key_is_live(&replacement[0]));

    // Without `revoke_on`, a critical anomaly is reported and nothing is changed.
    let quiet = Watch::new();
    let key = Shape::Project74.key();
    let id = quiet.org.add_user_key(&quiet.project, &key, NOW - 60 * DAY);
    quiet.seed(&id, (NOW - 21 * DAY, LAST_HOUR), office_shape(1, 100.0));
    quiet.use_key(&id, "gpt-4o-mini", LAST_HOUR, 2500);
    let run = quiet.run(NOW, &[]);
    run.expect_code(1);
    assert_eq!(run.json()["rotations"], serde_json::json!([]), "{run}");
    assert!(quiet.org.key_is_live(&key));
}
