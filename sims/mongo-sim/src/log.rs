//! Structured log lines modelled on mongod's JSON log
//! (https://www.mongodb.com/docs/manual/reference/log-messages/):
//! {"t":{"$date":...},"s":"I","c":"REPL","id":N,"ctx":"conn3","msg":"...","attr":{...}}

use serde_json::{json, Map, Value};
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

static OUT: Mutex<()> = Mutex::new(());

/// ISO-8601 UTC timestamp with milliseconds, like mongod's `$date`.
pub fn iso_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ms = d.as_millis() as i64;
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant), to avoid a date dependency.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// Writes one line and flushes, so tests reading the pipe see it immediately.
pub fn line(severity: &str, component: &str, id: i64, ctx: &str, msg: &str, attr: Value) {
    let mut obj = Map::new();
    obj.insert("t".into(), json!({"$date": iso_now()}));
    obj.insert("s".into(), json!(severity));
    obj.insert("c".into(), json!(component));
    obj.insert("id".into(), json!(id));
    obj.insert("ctx".into(), json!(ctx));
    obj.insert("msg".into(), json!(msg));
    if !attr.is_null() {
        obj.insert("attr".into(), attr);
    }
    let text = Value::Object(obj).to_string();
    let _guard = OUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::io::stdout().lock();
    // A closed stdout must not kill the emulator's connection threads.
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

pub fn info(component: &str, id: i64, ctx: &str, msg: &str, attr: Value) {
    line("I", component, id, ctx, msg, attr)
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_format() {
        let s = super::iso_now();
        assert_eq!(s.len(), "2024-01-01T00:00:00.000+00:00".len());
        assert!(s.starts_with("20"));
        assert_eq!(&s[10..11], "T");
    }
}
