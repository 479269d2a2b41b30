package dep

// OnRoundEnd calls f after each sync round's last transaction, before
// the run decides whether to go round again.
func OnRoundEnd(s *Service, f func()) { s.roundEnded = f }
