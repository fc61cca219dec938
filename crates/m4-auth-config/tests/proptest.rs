//! Arbitrary strings in every variable never panic, and whatever is accepted survives the
//! `to_env` round trip unchanged.
#![cfg(test)]

use m4_auth_config::{AuthConfig, Loaded, vars};
use proptest::prelude::*;

/// Strings likely to reach deep into the parsers, plus fully arbitrary ones.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        "(https?|redis|rediss|HTTP)://[a-z0-9.:@\\[\\]%_-]{0,30}(/[ -~]{0,10})?",
        "[0-9]{0,25}",
        "(true|false|yes|no|on|off|1|0|TRUE)",
        "((RS|PS|ES|HS)(256|384|512)|EdDSA|none| |,){0,6}",
        "(Bearer )?[A-Za-z0-9._-]{0,30}",
    ]
}

fn var() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vars::ALL)
}

/// Loading must not panic; its result must print; accepted configs must round-trip.
fn exercise(pairs: Vec<(String, String)>) -> Result<(), TestCaseError> {
    match AuthConfig::from_vars(pairs) {
        Ok(Loaded {
            config, warnings, ..
        }) => {
            for w in &warnings {
                prop_assert!(!w.to_string().is_empty());
            }
            let _ = format!("{config:?}");
            if config.enabled() {
                prop_assert!(config.issuer().is_some() && config.audience().is_some());
            }
            prop_assert!(!config.required_scopes().is_empty());
            prop_assert!(!config.algorithms().is_empty());
            let again = AuthConfig::from_vars(config.to_env(false)).map(|l| l.config);
            let expected = if config.token().is_some() {
                // the token is never exported; compare everything else
                AuthConfig::from_vars(config.to_env(true)).unwrap().config
            } else {
                config
            };
            prop_assert_eq!(again, Ok(expected));
        }
        Err(err) => {
            prop_assert!(!err.problems().is_empty());
            let text = err.to_string();
            prop_assert!(text.lines().count() == err.problems().len() + err.warnings().len());
            for p in err.problems() {
                prop_assert!(vars::ALL.contains(&p.var()));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_string_in_any_one_variable(var in var(), value in value(), enabled in any::<bool>()) {
        let mut pairs = vec![
            (vars::ENABLED.to_owned(), enabled.to_string()),
            (vars::ISSUER_URL.to_owned(), "https://idp.example.com/".to_owned()),
            (vars::AUDIENCE.to_owned(), "m4-api".to_owned()),
        ];
        pairs.retain(|(k, _)| k != var);
        pairs.push((var.to_owned(), value));
        exercise(pairs)?;
    }

    #[test]
    fn any_strings_in_many_variables(pairs in proptest::collection::vec((var(), value()), 0..12)) {
        exercise(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())?;
    }

    #[test]
    fn any_variable_names(names in proptest::collection::vec("(M4_OAUTH2?_)?[A-Za-z_]{0,25}", 0..6)) {
        exercise(names.into_iter().map(|n| (n, "1".to_owned())).collect())?;
    }
}
