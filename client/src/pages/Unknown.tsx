export function UnknownPage() {
  return (
    <section class="page">
      <h1>Unknown</h1>
    </section>
  );
}
