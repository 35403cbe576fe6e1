//! The functions a query may call: an allow-list of functions known to only compute, in
//! SQLite and PostgreSQL. Anything else (`pg_read_file`, `lo_export`, `set_config`, `nextval`,
//! `pg_sleep`, `load_extension`, `dblink`, `query_to_xml`, ...) is refused before the query
//! runs, unless the application adds it with
//! [`SqlPolicy::allow_function`](super::SqlPolicy::allow_function).

/// Lower-case names of the functions every query may call.
pub(crate) const SAFE_FUNCTIONS: &[&str] = &[
    // aggregates
    "count", "sum", "avg", "min", "max", "total", "group_concat", "string_agg", "array_agg",
    "json_agg", "jsonb_agg", "json_group_array", "json_group_object", "json_object_agg",
    "jsonb_object_agg", "bool_and", "bool_or", "every", "bit_and", "bit_or", "stddev",
    "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "corr", "covar_pop",
    "covar_samp", "regr_slope", "regr_intercept", "regr_count", "regr_r2", "percentile_cont",
    "percentile_disc", "mode", "median",
    // window functions
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
    "first_value", "last_value", "nth_value",
    // conditionals and nulls
    "coalesce", "nullif", "ifnull", "iif", "greatest", "least", "num_nulls", "num_nonnulls",
    "likely", "unlikely", "likelihood",
    // numbers
    "abs", "ceil", "ceiling", "floor", "round", "trunc", "sign", "sqrt", "cbrt", "power", "pow",
    "exp", "ln", "log", "log10", "log2", "mod", "div", "pi", "degrees", "radians", "sin", "cos",
    "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "random", "width_bucket",
    "gcd", "lcm", "factorial", "scale",
    // text
    "length", "char_length", "character_length", "octet_length", "bit_length", "lower", "upper",
    "initcap", "trim", "ltrim", "rtrim", "btrim", "substr", "substring", "replace", "translate",
    "reverse", "repeat", "lpad", "rpad", "left", "right", "concat", "concat_ws", "instr",
    "strpos", "position", "split_part", "starts_with", "format", "printf", "quote",
    "quote_literal", "quote_ident", "quote_nullable", "hex", "unhex", "char", "chr", "ascii",
    "unicode", "md5", "sha256", "encode", "decode", "to_hex", "regexp_replace", "regexp_match",
    "regexp_matches", "regexp_like", "regexp_substr", "regexp_count", "regexp_split_to_array",
    "like", "glob", "soundex", "typeof", "string_to_array", "array_to_string", "overlay",
    "to_ascii", "zeroblob",
    // dates and times
    "date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff", "now",
    "current_date", "current_time", "current_timestamp", "localtime", "localtimestamp",
    "date_trunc", "date_part", "date_bin", "extract", "age", "make_date", "make_time",
    "make_timestamp", "make_timestamptz", "make_interval", "to_char", "to_date", "to_number",
    "to_timestamp", "justify_days", "justify_hours", "justify_interval", "isfinite",
    "clock_timestamp", "statement_timestamp", "transaction_timestamp",
    // JSON
    "json", "jsonb", "json_extract", "jsonb_extract", "json_array", "json_object",
    "json_array_length", "json_type", "json_valid", "json_quote", "json_patch", "json_set",
    "json_insert", "json_replace", "json_remove", "json_each", "json_tree", "json_build_object",
    "json_build_array", "jsonb_build_object", "jsonb_build_array", "to_json", "to_jsonb",
    "row_to_json", "array_to_json", "json_extract_path", "json_extract_path_text",
    "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_set", "jsonb_insert",
    "jsonb_pretty", "jsonb_typeof", "json_typeof", "jsonb_array_length", "json_array_elements",
    "jsonb_array_elements", "json_array_elements_text", "jsonb_array_elements_text",
    "jsonb_each", "json_each_text", "jsonb_each_text", "json_object_keys", "jsonb_object_keys",
    "jsonb_strip_nulls", "json_strip_nulls", "jsonb_path_query", "jsonb_path_exists",
    // arrays and sets
    "array_length", "array_position", "array_positions", "cardinality", "unnest",
    "generate_series", "generate_subscripts", "array_append", "array_prepend", "array_cat",
    "array_remove", "array_replace", "array_dims", "array_lower", "array_upper", "array_ndims",
    // identifiers
    "gen_random_uuid",
];

#[cfg(test)]
mod tests {
    use super::SAFE_FUNCTIONS;

    #[test]
    fn names_are_lower_case_and_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for name in SAFE_FUNCTIONS {
            assert_eq!(*name, name.to_lowercase(), "{name} must be lower case");
            assert!(seen.insert(name), "{name} is listed twice");
        }
    }

    #[test]
    fn functions_with_side_effects_are_not_listed() {
        for name in [
            "pg_read_file", "pg_read_binary_file", "lo_import", "lo_export", "set_config",
            "nextval", "setval", "pg_sleep", "pg_terminate_backend", "pg_cancel_backend",
            "dblink", "dblink_exec", "query_to_xml", "pg_advisory_lock", "pg_notify",
            "load_extension", "pg_ls_dir", "current_setting", "txid_current", "pg_logical_emit_message",
        ] {
            assert!(!SAFE_FUNCTIONS.contains(&name), "{name} must not be allowed");
        }
    }
}
