//! The service mesh: meshd beside a workload (sidecar) and the gateway joining the mesh.
//! [`identity`] is who a workload is and how it proves it (certificates, mTLS configs, rotation).

pub mod identity;
