export function LivePage(_props: { cameraId: string | undefined }) {
  return (
    <section class="page">
      <h1>Live</h1>
    </section>
  );
}
