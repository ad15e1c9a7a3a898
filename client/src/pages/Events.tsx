export function EventsPage() {
  return (
    <section class="page">
      <h1>Events</h1>
    </section>
  );
}
