export function WebcamPage() {
  return (
    <section class="page">
      <h1>Webcam</h1>
    </section>
  );
}
