export function CamerasPage() {
  return (
    <section class="page">
      <h1>Cameras</h1>
    </section>
  );
}
