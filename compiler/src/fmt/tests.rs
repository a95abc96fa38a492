//! Layout and comment placement on small programs.

use super::*;

fn fmt(source: &str) -> String {
    match format_source(FileId(0), source) {
        Ok(text) => text,
        Err(FormatError::Syntax(d)) => panic!("syntax errors: {d:?}"),
        Err(e) => panic!("{e}"),
    }
}

/// Formats `source`, checks the result is `expected` and that formatting it again changes nothing.
fn assert_formats(source: &str, expected: &str) {
    let once = fmt(source);
    assert_eq!(
        once, expected,
        "\n--- got ---\n{once}\n--- expected ---\n{expected}"
    );
    assert_eq!(fmt(&once), once, "formatting twice changes the text");
}

#[test]
fn messy_spacing_becomes_the_canonical_layout() {
    assert_formats(
        "gateway   edge{listen \"127.0.0.1:8080\"\n\n\n\n route ping{match GET \"/ping\" public respond 200 \"pong\"}}\nservice riker{\nendpoints[ \"127.0.0.1:9103\" , ]\n}",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n\n  route ping { match GET \"/ping\"  public  respond 200 \"pong\" }\n}\n\nservice riker { endpoints [\"127.0.0.1:9103\"] }\n",
    );
}

#[test]
fn literals_are_spelled_canonically() {
    assert_formats(
        "service s {\n  timeout 60000ms\n  retry 10_000 on [502] backoff 1000ms..2048ms\n}\ngateway g { listen \"0.0.0.0:1\" route r { match PUT \"/a\\u{62}\" public body_limit 1048576B rate_limit 5/minute respond 204 } }\n",
        "service s {\n  timeout 1m\n  retry 10000 on [502] backoff 1s..2048ms\n}\n\ngateway g {\n  listen \"0.0.0.0:1\"\n  route r {\n    match PUT \"/ab\"\n    public\n    body_limit 1MiB\n    rate_limit 5/min per consumer\n    respond 204\n  }\n}\n",
    );
}

#[test]
fn standalone_and_trailing_comments_stay_where_they_were() {
    assert_formats(
        "# header\n\n# about edge\ngateway edge { # the edge\n  listen \"127.0.0.1:8080\"   # loopback\n\n  # ping\n  route ping {\n    match GET \"/ping\" /* inline */ public\n    respond 200 \"pong\"\n    # end of ping\n  } # after ping\n}\n# footer\n",
        "# header\n\n# about edge\ngateway edge { # the edge\n  listen \"127.0.0.1:8080\" # loopback\n\n  # ping\n  route ping {\n    match GET \"/ping\" /* inline */\n    public\n    respond 200 \"pong\"\n    # end of ping\n  } # after ping\n}\n# footer\n",
    );
}

#[test]
fn a_comment_inside_a_list_breaks_it_one_item_per_line() {
    assert_formats(
        "service picard {\n  endpoints [\"127.0.0.1:9101\", # primary\n    \"127.0.0.1:9102\"]\n  timeout 2s\n}\n",
        "service picard {\n  endpoints [\n    \"127.0.0.1:9101\", # primary\n    \"127.0.0.1:9102\",\n  ]\n  timeout 2s\n}\n",
    );
}

#[test]
fn comments_between_the_tokens_of_a_statement_are_kept_next_to_it() {
    assert_formats(
        "service s {\n  retry 3 /* few */ on [502]\n  health_check GET\n  # probe\n  \"/healthz\" every 5s\n}\n",
        "service s {\n  retry 3 on [502] /* few */\n  # probe\n  health_check GET \"/healthz\" every 5s\n}\n",
    );
}

#[test]
fn a_comment_inside_a_short_block_keeps_it_unfolded() {
    assert_formats(
        "gateway g {\n  listen \"127.0.0.1:1\"\n  consumer c { key env(\"K\") # rotated monthly\n  }\n}\n",
        "gateway g {\n  listen \"127.0.0.1:1\"\n  consumer c {\n    key env(\"K\") # rotated monthly\n  }\n}\n",
    );
}

#[test]
fn long_lists_at_the_end_of_a_line_break() {
    let endpoints: Vec<String> = (0..8).map(|i| format!("\"10.0.0.{i}:9000\"")).collect();
    let source = format!(
        "service s {{ endpoints [{}] timeout 1s }}\n",
        endpoints.join(", ")
    );
    let expected = format!(
        "service s {{\n  endpoints [\n{}  ]\n  timeout 1s\n}}\n",
        endpoints
            .iter()
            .map(|e| format!("    {e},\n"))
            .collect::<String>()
    );
    assert_formats(&source, &expected);
}

#[test]
fn routes_fold_only_when_short_and_free_of_cel() {
    assert_formats(
        "gateway g {\n  listen \"127.0.0.1:1\"\n  route a { match GET \"/a\" public forward s }\n  route b { match GET \"/b\" public when request.method == \"GET\" forward s }\n  route c { match GET \"/c\" public timeout 1s forward s }\n}\n",
        "gateway g {\n  listen \"127.0.0.1:1\"\n  route a { match GET \"/a\"  public  forward s }\n  route b {\n    match GET \"/b\"\n    public\n    when request.method == \"GET\"\n    forward s\n  }\n  route c {\n    match GET \"/c\"\n    public\n    timeout 1s\n    forward s\n  }\n}\n",
    );
}

#[test]
fn multi_line_cel_is_kept_as_written() {
    let source =
        "mesh {\n  allow a -> b when request.method in [\n      \"GET\",\n      \"HEAD\"]\n}\n";
    assert_formats(source, source);
}

#[test]
fn topics_and_includes_keep_their_grouping() {
    assert_formats(
        "include \"a.mesh\"\ninclude \"b.mesh\"\n\ntopic \"x\" { external  partitions 3 }\ntopic \"y\"\n",
        "include \"a.mesh\"\ninclude \"b.mesh\"\n\ntopic \"x\" external { partitions 3 }\ntopic \"y\"\n",
    );
}

#[test]
fn an_empty_file_and_a_comment_only_file_format() {
    assert_formats("", "");
    assert_formats(
        "\n\n  # only a note   \n\n\n/* and a\n   block */\n",
        "# only a note\n\n/* and a\n   block */\n",
    );
}

#[test]
fn a_file_with_syntax_errors_is_refused() {
    assert!(matches!(
        format_source(FileId(0), "service s { timeout }"),
        Err(FormatError::Syntax(_))
    ));
}

#[test]
fn the_seed_program_is_a_fixed_point_after_one_pass() {
    let once = fmt(include_str!("../../tests/fixtures/seed_program.mesh"));
    assert_eq!(fmt(&once), once);
    assert!(once.contains("  route ping { match GET \"/ping\"  public  respond 200 \"pong\" }\n"));
    assert!(
        once.contains("  circuit_breaker { consecutive_errors 5  eject 30s  max_ejected 50% }\n")
    );
}

#[test]
fn a_block_comment_after_cel_goes_above_the_statement() {
    assert_formats(
        "mesh {\n  allow /* why */ a -> b when request.method == \"GET\"\n}\n",
        "mesh {\n  /* why */\n  allow a -> b when request.method == \"GET\"\n}\n",
    );
}

#[test]
fn a_comment_in_a_list_in_the_middle_of_a_line_breaks_only_that_list() {
    assert_formats(
        "gateway g {\n  listen \"127.0.0.1:1\"\n  route r {\n    match POST \"/s/{ship}\"\n    public\n    produce topic param \"ship\" allow [\"enterprise\", # flagship\n \"voyager\"] headers [\"x-ship\"] acks all\n  }\n}\n",
        "gateway g {\n  listen \"127.0.0.1:1\"\n  route r {\n    match POST \"/s/{ship}\"\n    public\n    produce topic param \"ship\" allow [\n      \"enterprise\", # flagship\n      \"voyager\",\n    ] headers [\"x-ship\"] acks all\n  }\n}\n",
    );
}

#[test]
fn comments_in_a_cors_block_stay_with_their_settings() {
    assert_formats(
        "gateway g { listen \"127.0.0.1:1\" route r { match GET \"/\" public respond 200\n cors {\n # who\n origins [\"https://a.test\"]\n credentials # cookies too\n max_age 1h\n } } }\n",
        "gateway g {\n  listen \"127.0.0.1:1\"\n  route r {\n    match GET \"/\"\n    public\n    respond 200\n    cors {\n      # who\n      origins [\"https://a.test\"]\n      credentials # cookies too\n      max_age 1h\n    }\n  }\n}\n",
    );
}

#[test]
fn windows_line_endings_become_newlines() {
    assert_formats(
        "# note\r\nservice s {\r\n  timeout 2s # two\r\n\r\n  retry 1\r\n}\r\n",
        "# note\nservice s {\n  timeout 2s # two\n\n  retry 1\n}\n",
    );
}

#[test]
fn a_comment_between_a_blocks_name_and_brace_moves_to_a_stable_place() {
    assert_formats(
        "service s # upstream\n{ timeout 2s }\nservice t /* spare */ { timeout 1s }\n",
        "# upstream\nservice s { timeout 2s }\n\nservice t { /* spare */\n  timeout 1s\n}\n",
    );
}

#[test]
fn a_topic_schema_keeps_its_place_among_the_topic_settings() {
    assert_formats(
        "topic   \"log\" external {schema \"log.schema.json\"\npartitions 3}\n",
        "topic \"log\" external { schema \"log.schema.json\"  partitions 3 }\n",
    );
    assert_formats(
        "topic \"log\" {\n  partitions 3  # three\n  schema \"log.schema.json\"\n}\n",
        "topic \"log\" {\n  partitions 3 # three\n  schema \"log.schema.json\"\n}\n",
    );
}
