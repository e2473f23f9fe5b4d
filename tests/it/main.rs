//! The one integration-test binary: each module is one area of behaviour.

mod emulator;
