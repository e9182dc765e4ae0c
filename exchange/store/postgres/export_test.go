package postgres

// HighestOffsetQuery is exported to the plan test.
const HighestOffsetQuery = highestOffsetQuery

// QuerySQL is exported to the plan test.
var QuerySQL = querySQL
