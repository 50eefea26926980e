//! Filter evaluation (§3.6): an [`Expr`] against one document.
//!
//! Invariants: evaluation never reads the database (only the document in hand) and can only
//! fail with `EvalError`; comparisons use Convex's total order of values (undefined first).

use emvex_value::Value;

use super::definition::{ArithOp, CmpOp, Expr};
use crate::DbError;
use crate::document::DocEnv;

fn eval_error(message: String) -> DbError {
    DbError::new("EvalError", message)
}

/// Renders an optional value for error messages (`undefined` for a missing value).
pub(crate) fn show(v: Option<&Value>) -> String {
    match v {
        None => "undefined".to_string(),
        Some(v) => v.to_string(),
    }
}

fn type_of(v: Option<&Value>) -> &'static str {
    v.map(Value::type_name).unwrap_or("undefined")
}

fn as_bool(v: Option<Value>) -> Result<bool, DbError> {
    match v {
        Some(Value::Boolean(b)) => Ok(b),
        other => Err(eval_error(format!("Cannot use value {} as a Boolean", show(other.as_ref())))),
    }
}

impl Expr {
    /// Evaluates the expression against a document (§3.6).
    pub(crate) fn eval(&self, env: &DocEnv<'_>) -> Result<Option<Value>, DbError> {
        Ok(match self {
            Expr::Field(path) => env.get(path).cloned(),
            Expr::Literal(v) => v.clone(),
            Expr::Cmp(op, l, r) => {
                let l = l.eval(env)?;
                let r = r.eval(env)?;
                let ord = emvex_value::compare_maybe(l.as_ref(), r.as_ref());
                let b = match op {
                    CmpOp::Eq => ord.is_eq(),
                    CmpOp::Neq => ord.is_ne(),
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Lte => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    CmpOp::Gte => ord.is_ge(),
                };
                Some(Value::Boolean(b))
            }
            Expr::Arith(op, l, r) => {
                let l = l.eval(env)?;
                let r = r.eval(env)?;
                Some(arith(*op, l.as_ref(), r.as_ref())?)
            }
            Expr::Neg(x) => {
                let x = x.eval(env)?;
                match &x {
                    Some(Value::Int64(n)) => Some(Value::Int64(n.checked_neg().ok_or_else(|| {
                        eval_error(format!("Cannot negate {n}: the result is out of range for Int64"))
                    })?)),
                    Some(Value::Float64(f)) => Some(Value::Float64(-f)),
                    _ => {
                        return Err(eval_error(format!(
                            "Cannot negate {} (type {})",
                            show(x.as_ref()),
                            type_of(x.as_ref())
                        )));
                    }
                }
            }
            Expr::And(items) => {
                for e in items {
                    if !as_bool(e.eval(env)?)? {
                        return Ok(Some(Value::Boolean(false)));
                    }
                }
                Some(Value::Boolean(true))
            }
            Expr::Or(items) => {
                for e in items {
                    if as_bool(e.eval(env)?)? {
                        return Ok(Some(Value::Boolean(true)));
                    }
                }
                Some(Value::Boolean(false))
            }
            Expr::Not(x) => Some(Value::Boolean(!as_bool(x.eval(env)?)?)),
        })
    }

    /// Evaluates a whole filter: it must produce a boolean.
    pub(crate) fn matches(&self, env: &DocEnv<'_>) -> Result<bool, DbError> {
        as_bool(self.eval(env)?)
    }
}

fn arith(op: ArithOp, l: Option<&Value>, r: Option<&Value>) -> Result<Value, DbError> {
    let name = match op {
        ArithOp::Add => "add",
        ArithOp::Sub => "subtract",
        ArithOp::Mul => "multiply",
        ArithOp::Div => "divide",
        ArithOp::Mod => "mod",
    };
    match (l, r) {
        (Some(Value::Int64(a)), Some(Value::Int64(b))) => {
            let (a, b) = (*a, *b);
            if matches!(op, ArithOp::Div | ArithOp::Mod) && b == 0 {
                return Err(eval_error(format!("Cannot {name} {a} by zero")));
            }
            let result = match op {
                ArithOp::Add => a.checked_add(b),
                ArithOp::Sub => a.checked_sub(b),
                ArithOp::Mul => a.checked_mul(b),
                ArithOp::Div => a.checked_div(b),
                ArithOp::Mod => a.checked_rem(b),
            };
            result
                .map(Value::Int64)
                .ok_or_else(|| eval_error(format!("Cannot {name} {a} and {b}: the result is out of range for Int64")))
        }
        (Some(Value::Float64(a)), Some(Value::Float64(b))) => Ok(Value::Float64(match op {
            ArithOp::Add => a + b,
            ArithOp::Sub => a - b,
            ArithOp::Mul => a * b,
            ArithOp::Div => a / b,
            ArithOp::Mod => a % b,
        })),
        _ => Err(eval_error(format!(
            "Cannot {name} {} (type {}) and {} (type {})",
            show(l),
            type_of(l),
            show(r),
            type_of(r)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::*;
    use crate::query::wire::parse_expr;

    fn v(j: Json) -> Value {
        Value::from_convex_json(&j).unwrap()
    }

    fn eval(expr: Json, body: Json) -> Result<Option<Value>, DbError> {
        let e = parse_expr(&expr)?;
        let body = v(body).into_object().unwrap();
        let id = Value::String("someid".into());
        let ct = Value::Float64(1.5);
        e.eval(&DocEnv { body: &body, id: &id, creation_time: &ct })
    }

    fn lit(j: Json) -> Json {
        json!({ "$literal": j })
    }

    #[test]
    fn comparisons_cross_types_and_undefined() {
        let t = Some(Value::Boolean(true));
        let f = Some(Value::Boolean(false));
        // "a" > 5 across types.
        assert_eq!(eval(json!({"$gt": [lit(json!("a")), lit(json!(5))]}), json!({})).unwrap(), t);
        // missing field == undefined, != null, < null.
        assert_eq!(eval(json!({"$eq": [{"$field": "x"}, lit(json!({"$undefined": null}))]}), json!({})).unwrap(), t);
        assert_eq!(eval(json!({"$eq": [{"$field": "x"}, lit(json!(null))]}), json!({})).unwrap(), f);
        assert_eq!(eval(json!({"$lt": [{"$field": "x"}, lit(json!(null))]}), json!({})).unwrap(), t);
        // int never equals float; int < float.
        let one_n = json!({"$integer": "AQAAAAAAAAA="});
        assert_eq!(eval(json!({"$eq": [lit(one_n.clone()), lit(json!(1))]}), json!({})).unwrap(), f);
        assert_eq!(eval(json!({"$lt": [lit(one_n), lit(json!(0.5))]}), json!({})).unwrap(), t);
        // nested paths, system fields, arrays are not traversed.
        assert_eq!(eval(json!({"$eq": [{"$field": "a.b"}, lit(json!(2))]}), json!({"a": {"b": 2}})).unwrap(), t);
        assert_eq!(eval(json!({"$eq": [{"$field": "_id"}, lit(json!("someid"))]}), json!({})).unwrap(), t);
        assert_eq!(eval(json!({"$gt": [{"$field": "_creationTime"}, lit(json!(1))]}), json!({})).unwrap(), t);
        assert_eq!(eval(json!({"$field": "a.0"}), json!({"a": [1]})).unwrap(), None);
        // NaN == NaN, -0 != 0
        let nan = json!({"$float": "AAAAAAAA+H8="});
        assert_eq!(eval(json!({"$eq": [lit(nan.clone()), lit(nan)]}), json!({})).unwrap(), t);
        let neg0 = json!({"$float": "AAAAAAAAAIA="});
        assert_eq!(eval(json!({"$neq": [lit(neg0), lit(json!(0))]}), json!({})).unwrap(), t);
    }

    #[test]
    fn arithmetic_and_logic() {
        let r = eval(
            json!({"$div": [{"$neg": {"$add": [{"$mul": [lit(json!(3)), lit(json!(5))]}, {"$sub": [lit(json!(5)), {"$mod": [lit(json!(11)), lit(json!(3))]}]}]}}, lit(json!(3))]}),
            json!({}),
        )
        .unwrap();
        assert_eq!(r, Some(Value::Float64(-6.0)));
        let i = |n: i64| json!({"$integer": emvex_value::base64_encode(&n.to_le_bytes())});
        assert_eq!(eval(json!({"$add": [lit(i(2)), lit(i(3))]}), json!({})).unwrap(), Some(Value::Int64(5)));
        assert_eq!(eval(json!({"$and": []}), json!({})).unwrap(), Some(Value::Boolean(true)));
        assert_eq!(eval(json!({"$or": []}), json!({})).unwrap(), Some(Value::Boolean(false)));
        assert_eq!(eval(json!({"$not": lit(json!(false))}), json!({})).unwrap(), Some(Value::Boolean(true)));
        // short circuit: the second operand would be an error.
        assert_eq!(
            eval(json!({"$or": [lit(json!(true)), lit(json!(3))]}), json!({})).unwrap(),
            Some(Value::Boolean(true))
        );
    }

    #[test]
    fn eval_errors() {
        let i = |n: i64| json!({"$integer": emvex_value::base64_encode(&n.to_le_bytes())});
        let cases = [
            (json!({"$add": [lit(json!(1)), lit(i(1))]}), "Cannot add 1"),
            (json!({"$add": [{"$field": "x"}, lit(json!(1))]}), "Cannot add undefined (type undefined)"),
            (json!({"$mul": [lit(json!("a")), lit(json!(1))]}), "(type String)"),
            (json!({"$div": [lit(i(5)), lit(i(0))]}), "Cannot divide 5 by zero"),
            (json!({"$add": [lit(i(i64::MAX)), lit(i(1))]}), "out of range for Int64"),
            (json!({"$neg": lit(json!("s"))}), "Cannot negate"),
            (json!({"$and": [lit(json!(1))]}), "as a Boolean"),
            (json!({"$not": lit(json!(null))}), "as a Boolean"),
        ];
        for (expr, needle) in cases {
            let e = eval(expr.clone(), json!({})).unwrap_err();
            assert_eq!(e.code, "EvalError", "{expr}");
            assert!(e.message.contains(needle), "{expr}: {}", e.message);
        }
    }
}
