export function FacebankPage() {
  return (
    <section class="page">
      <h1>Facebank</h1>
    </section>
  );
}
