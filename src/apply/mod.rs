//! The executor of plans: phases, concurrency, throttling, preconditions, report.
