//! http parser (being written)
