package postgres

// HighestOffsetQuery is exported to the plan test.
const HighestOffsetQuery = highestOffsetQuery
