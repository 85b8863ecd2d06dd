//! Screen capture through scrap.
