//! `meshc who-can`: whole-topology questions answered from the verified graph of a compiled
//! program. "Who can reach service `data`?" lists the gateway routes that forward to it (with the
//! consumers each admits and the limits on them), the gateways and services the mesh lets call
//! it, the streams that deliver to it, and who reaches it indirectly through a service the mesh
//! lets call it. "Who can produce `captains-log`?" lists the routes and streams that write the
//! topic, and who feeds those streams.

pub mod answer;
pub mod question;
pub mod render_human;

pub use answer::{answer, Answer};
pub use question::Question;
