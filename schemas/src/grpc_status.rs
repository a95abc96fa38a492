//! gRPC status codes by name (the names of `google.rpc.Code`, in snake case as the language
//! writes them): shared by the compiler, which reads `retry … on [grpc unavailable]`, and the
//! runtime, which retries on them and answers gRPC clients with them.

/// Every gRPC status code with its name, in code order.
pub const GRPC_CODES: [(&str, u8); 17] = [
    ("ok", 0),
    ("cancelled", 1),
    ("unknown", 2),
    ("invalid_argument", 3),
    ("deadline_exceeded", 4),
    ("not_found", 5),
    ("already_exists", 6),
    ("permission_denied", 7),
    ("resource_exhausted", 8),
    ("failed_precondition", 9),
    ("aborted", 10),
    ("out_of_range", 11),
    ("unimplemented", 12),
    ("internal", 13),
    ("unavailable", 14),
    ("data_loss", 15),
    ("unauthenticated", 16),
];

/// The code named `name` (snake case), if there is one.
pub fn grpc_code(name: &str) -> Option<u8> {
    GRPC_CODES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, code)| *code)
}

/// The name of `code`, if it is a known code.
pub fn grpc_code_name(code: u8) -> Option<&'static str> {
    GRPC_CODES.get(usize::from(code)).map(|(name, _)| *name)
}

/// The gRPC status a gateway-made HTTP answer stands for, for a gRPC client (meshd answers with
/// it; `meshc explain` names it): 401 → 16 UNAUTHENTICATED, 403 → 7 PERMISSION_DENIED, 413 and
/// 429 → 8 RESOURCE_EXHAUSTED, 504 → 4 DEADLINE_EXCEEDED, 404 and 405 → 12 UNIMPLEMENTED, 502
/// and 503 → 14 UNAVAILABLE, 400 → 13 INTERNAL (gRPC's own HTTP mapping), else 2 UNKNOWN.
pub fn grpc_code_for_http(status: u16) -> u8 {
    match status {
        401 => 16,
        403 => 7,
        413 | 429 => 8,
        504 => 4,
        404 | 405 => 12,
        502 | 503 => 14,
        400 => 13,
        _ => 2,
    }
}

/// `CODE NAME` as gRPC writes it, e.g. `7 PERMISSION_DENIED`.
pub fn describe_grpc_code(code: u8) -> String {
    format!(
        "{code} {}",
        grpc_code_name(code)
            .unwrap_or("unknown")
            .to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for (name, code) in GRPC_CODES {
            assert_eq!(grpc_code(name), Some(code));
            assert_eq!(grpc_code_name(code), Some(name));
        }
        assert_eq!(grpc_code("Unavailable"), None);
        assert_eq!(grpc_code_name(17), None);
    }

    #[test]
    fn the_gateway_statuses_map_to_grpc_codes() {
        assert_eq!(
            [401, 403, 429, 504, 404, 503, 502, 413, 400, 418].map(grpc_code_for_http),
            [16, 7, 8, 4, 12, 14, 14, 8, 13, 2]
        );
        assert_eq!(describe_grpc_code(7), "7 PERMISSION_DENIED");
    }
}
