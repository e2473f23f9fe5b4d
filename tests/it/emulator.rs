//! HTTP-level tests of the emulator (filled in by the emulator work).
