//! SSH transport (owned by the SSH engineer).
