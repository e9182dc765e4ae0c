package agreements

// Set is everything loaded from one or more YAML files: agencies, data
// contracts and agreements, each in file order.
type Set struct {
	Agencies   []Agency
	Contracts  []DataContract
	Agreements []Agreement
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
