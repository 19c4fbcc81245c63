package worker

// Alias makes the records of topic decode as those of the event published on of: for an internal
// topic that carries another topic's records unchanged, such as a counter's repartition topic
// (SPEC-dataplane 12), which index.json does not name. Call it before the worker runs.
func (r *Registry) Alias(topic, of string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.aliases == nil {
		r.aliases = map[string]string{}
	}
	r.aliases[topic] = of
}

// resolve returns the topic whose event a record of topic is.
func (r *Registry) resolve(topic string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if of, ok := r.aliases[topic]; ok {
		return of
	}
	return topic
}
