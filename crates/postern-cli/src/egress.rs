//! `postern egress`: where does this device's traffic leave, and is that the company NAT?

use std::path::Path;

use postern_core::Problem;
use postern_core::egress::{self, CountryDatabase, EchoAnswer, Verdict};
use postern_core::policy::{self, PolicyError};

use crate::output::{Failure, print_json};

pub async fn run(policy_file: Option<&Path>, json: bool) -> Result<(), Failure> {
    let (policy, file) = policy::load(policy_file)?;
    let settings = policy.egress.ok_or(PolicyError::MissingSection {
        path: file.path,
        section: "egress",
    })?;
    let countries = match &settings.geoip_database {
        Some(path) => Some(CountryDatabase::open(path)?),
        None => None,
    };
    let report = egress::check(&settings, countries.as_ref()).await;
    if json {
        print_json("egress", &report);
    } else {
        for r in &report.answers {
            let answer = match &r.answer {
                EchoAnswer::Address { address } => address.to_string(),
                other => serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v["outcome"].as_str().map(str::to_string))
                    .unwrap_or_default(),
            };
            println!("{:40} {answer} ({} ms)", r.url, r.elapsed_ms);
        }
        if let Some(c) = &report.country {
            println!(
                "country: {} ({}; database built {})",
                c.country.as_deref().unwrap_or("unknown"),
                c.note,
                c.database_built
            );
        }
        println!("{}", report.verdict);
    }
    match &report.verdict {
        Verdict::Match { .. } => Ok(()),
        other => {
            eprintln!("{}", other.next_step());
            Err(Failure::quiet(other.exit_code()))
        }
    }
}
