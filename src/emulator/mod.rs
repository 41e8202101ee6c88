//! roster's own SCIM 2.0 service provider (`roster emulator` and the `embedded` target).
