//! Property test: the canonical printer's output parses back to the same AST.

use pattern::*;
use proptest::prelude::*;

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,6}".prop_filter("not a literal keyword", |s| s != "true" && s != "false")
}

fn object_type() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}".prop_filter("not a literal keyword", |s| s != "true" && s != "false")
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        ident(),
        any::<String>(),
        Just("AND".to_string()),
        Just("true".to_string())
    ]
    .prop_filter("no hashes paths (validated separately)", |s| s != "hashes")
}

fn path() -> impl Strategy<Value = ObjectPath> {
    (
        object_type(),
        key(),
        prop::collection::vec(
            prop_oneof![
                key().prop_map(PathStep::Key),
                (0usize..1000).prop_map(PathStep::Index),
                Just(PathStep::AnyIndex)
            ],
            0..4,
        ),
    )
        .prop_map(|(object_type, first, rest)| {
            let mut steps = vec![PathStep::Key(first)];
            steps.extend(rest);
            ObjectPath { object_type, steps }
        })
}

fn timestamp() -> impl Strategy<Value = String> {
    (
        1000u32..9999,
        1u32..=12,
        1u32..=31,
        0u32..24,
        0u32..60,
        0u32..=60,
        prop::option::of(0u32..1_000_000),
    )
        .prop_map(|(y, mo, d, h, mi, s, frac)| {
            let mut t = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
            if let Some(fr) = frac {
                t.push_str(&format!(".{fr}"));
            }
            t.push('Z');
            t
        })
}

fn scalar(allow_bool: bool) -> BoxedStrategy<Constant> {
    let base = prop_oneof![
        any::<String>().prop_map(Constant::Str),
        any::<i64>().prop_map(|n| Constant::Int(n.into())),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Constant::Float),
        prop::collection::vec(any::<u8>(), 1..20).prop_map(Constant::Binary),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(Constant::Hex),
        timestamp().prop_map(Constant::Timestamp),
    ];
    if allow_bool {
        prop_oneof![base, any::<bool>().prop_map(Constant::Bool)].boxed()
    } else {
        base.boxed()
    }
}

fn comparison() -> impl Strategy<Value = ComparisonExpr> {
    let ops = prop_oneof![
        Just(CompOp::Eq),
        Just(CompOp::Ne),
        Just(CompOp::Lt),
        Just(CompOp::Le),
        Just(CompOp::Gt),
        Just(CompOp::Ge),
        Just(CompOp::In),
        Just(CompOp::Like),
        Just(CompOp::Matches),
        Just(CompOp::IsSubset),
        Just(CompOp::IsSuperset)
    ];
    let test = (
        path(),
        ops,
        any::<bool>(),
        scalar(true),
        scalar(false),
        prop::collection::vec(scalar(true), 0..4),
        any::<String>(),
    )
        .prop_map(|(path, op, negated, prim, ord, set, s)| {
            let value = match op {
                CompOp::Eq | CompOp::Ne => prim,
                CompOp::Lt | CompOp::Le | CompOp::Gt | CompOp::Ge => ord,
                CompOp::In => Constant::Set(set),
                _ => Constant::Str(s),
            };
            ComparisonExpr::Test(Comparison {
                path,
                op,
                negated,
                value,
            })
        });
    let leaf = prop_oneof![4 => test, 1 => path().prop_map(ComparisonExpr::Exists)];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(ComparisonExpr::And),
            prop::collection::vec(inner, 2..4).prop_map(ComparisonExpr::Or),
        ]
    })
}

fn qualifier() -> impl Strategy<Value = Qualifier> {
    prop_oneof![
        (0f64..1e9).prop_map(|seconds| Qualifier::Within { seconds }),
        (0u64..=1000).prop_map(|times| Qualifier::Repeats { times }),
        (timestamp(), timestamp()).prop_map(|(start, stop)| Qualifier::StartStop { start, stop }),
    ]
}

fn observation() -> impl Strategy<Value = ObservationExpr> {
    let leaf = comparison().prop_map(ObservationExpr::Comparison);
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(ObservationExpr::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(ObservationExpr::Or),
            prop::collection::vec(inner.clone(), 2..4).prop_map(ObservationExpr::FollowedBy),
            (inner, qualifier()).prop_map(|(e, q)| ObservationExpr::Qualified {
                expr: Box::new(e),
                qualifier: q
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn print_then_parse_is_identity(root in observation()) {
        let ast = Pattern { root };
        let printed = ast.to_string();
        let reparsed = parse(&printed);
        prop_assert!(reparsed.is_ok(), "{printed}: {:?}", reparsed.err().map(|e| e.to_string()));
        prop_assert_eq!(reparsed.ok(), Some(ast), "{}", printed);
    }
}
