//! TAXII 2.1 server and client (being built).
