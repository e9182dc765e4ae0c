package agreements

import "github.com/exchange-gov/exchange/agreements/calendar"

// Set is everything loaded from one or more YAML files: agencies, data
// contracts and agreements, each in file order.
type Set struct {
	Agencies   []Agency
	Contracts  []DataContract
	Agreements []Agreement
	Calendars  []Calendar
}

// Merge appends everything in o to s. Duplicates are kept: Validate reports
// them with both positions.
func (s *Set) Merge(o *Set) {
	if o == nil {
		return
	}
	s.Agencies = append(s.Agencies, o.Agencies...)
	s.Contracts = append(s.Contracts, o.Contracts...)
	s.Agreements = append(s.Agreements, o.Agreements...)
	s.Calendars = append(s.Calendars, o.Calendars...)
}

// Calendar returns the first calendar document with the given id.
func (s *Set) Calendar(id string) (*Calendar, bool) {
	for i := range s.Calendars {
		if s.Calendars[i].ID == id {
			return &s.Calendars[i], true
		}
	}
	return nil, false
}

// CalendarOf returns the built calendar named id: nil when id is empty,
// unknown, or its document had a problem.
func (s *Set) CalendarOf(id string) *calendar.Calendar {
	if id == "" {
		return nil
	}
	if c, ok := s.Calendar(id); ok {
		return c.Calendar()
	}
	return nil
}

// FreshnessCalendar is the calendar an agreement's freshness counts in: its
// own, else its provider contract's; nil when neither names one.
func (s *Set) FreshnessCalendar(a *Agreement) *calendar.Calendar {
	if a.Calendar != "" {
		return s.CalendarOf(a.Calendar)
	}
	if c, ok := s.Contract(a.Provider); ok && c.Freshness != nil {
		return s.CalendarOf(c.Freshness.Calendar)
	}
	return nil
}

// Agency returns the first agency with the given id.
func (s *Set) Agency(id string) (*Agency, bool) {
	for i := range s.Agencies {
		if s.Agencies[i].ID == id {
			return &s.Agencies[i], true
		}
	}
	return nil, false
}

// Contract returns the first data contract of the given dataset.
func (s *Set) Contract(dataset string) (*DataContract, bool) {
	for i := range s.Contracts {
		if s.Contracts[i].Dataset == dataset {
			return &s.Contracts[i], true
		}
	}
	return nil, false
}

// Agreement returns the first agreement with the given id.
func (s *Set) Agreement(id string) (*Agreement, bool) {
	for i := range s.Agreements {
		if s.Agreements[i].ID == id {
			return &s.Agreements[i], true
		}
	}
	return nil, false
}

// IsSteward reports whether name is one of the agency's stewards.
func (a *Agency) IsSteward(name string) bool {
	for _, s := range a.Stewards {
		if s == name {
			return true
		}
	}
	return false
}

// Field returns the classification of a field of the contract.
func (c *DataContract) Field(name string) (FieldClass, bool) {
	for _, f := range c.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return FieldClass{}, false
}

// Field returns the allow-list entry of a field of the agreement.
func (a *Agreement) Field(name string) (FieldRule, bool) {
	for _, f := range a.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return FieldRule{}, false
}
