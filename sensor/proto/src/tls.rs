//! tls parser (being written)
