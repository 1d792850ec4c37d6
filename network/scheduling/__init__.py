"""The visit scheduler: working hours, travel-aware free slots, conflict-free bookings, iCal invites."""
