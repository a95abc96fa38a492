//! The little type inference the checks need: enough to see a comparison between a string and
//! a number, or a condition that is not a bool, without a full CEL type checker. Anything not
//! known for sure is [`Ty::Dyn`], which is compatible with everything.

/// A CEL type, as far as the compiler can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Uint,
    Double,
    String,
    Bool,
    Bytes,
    Null,
    Timestamp,
    Duration,
    /// `list(string)`.
    StringList,
    /// Any other list.
    List,
    /// `map(string, string)`: headers, query parameters, path parameters.
    StringMap,
    /// Any other map (`jwt.claims`).
    Map,
    /// Unknown.
    Dyn,
}

impl Ty {
    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Int => "an int",
            Ty::Uint => "a uint",
            Ty::Double => "a double",
            Ty::String => "a string",
            Ty::Bool => "a bool",
            Ty::Bytes => "bytes",
            Ty::Null => "null",
            Ty::Timestamp => "a timestamp",
            Ty::Duration => "a duration",
            Ty::StringList | Ty::List => "a list",
            Ty::StringMap | Ty::Map => "a map",
            Ty::Dyn => "a value",
        }
    }

    /// True when the type is known (not [`Ty::Dyn`]).
    pub fn is_known(self) -> bool {
        self != Ty::Dyn
    }

    fn is_number(self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }

    fn family(self) -> Ty {
        match self {
            Ty::StringList => Ty::List,
            Ty::StringMap => Ty::Map,
            other => other,
        }
    }

    /// True when CEL can compare the two (numbers compare across int, uint and double; null and
    /// unknown values are left to run time).
    pub fn comparable_with(self, other: Ty) -> bool {
        !self.is_known()
            || !other.is_known()
            || self == Ty::Null
            || other == Ty::Null
            || self.family() == other.family()
            || (self.is_number() && other.is_number())
    }

    /// The type of `self[key]`.
    pub fn index(self) -> Ty {
        match self {
            Ty::StringMap | Ty::StringList => Ty::String,
            _ => Ty::Dyn,
        }
    }

    /// The type of an element `x in self` expects, if known.
    pub fn element(self) -> Ty {
        match self {
            Ty::StringList | Ty::StringMap => Ty::String,
            _ => Ty::Dyn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_across_kinds_but_not_with_strings() {
        assert!(Ty::Int.comparable_with(Ty::Double));
        assert!(!Ty::Int.comparable_with(Ty::String));
        assert!(Ty::Dyn.comparable_with(Ty::String));
        assert!(Ty::StringMap.comparable_with(Ty::Map));
        assert!(!Ty::Bool.comparable_with(Ty::String));
    }
}
