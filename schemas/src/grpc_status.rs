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
}
