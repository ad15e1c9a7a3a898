// What the server sends, as the browser sees it: the types are the server's own (server/live/protocol.ts for
// Socket.IO, server/schemas.ts for REST), imported with `import type` so the bundle loads nothing server-side.
import type { z } from 'zod';
import type { IntegrationsHealth as IntegrationsHealthSchema } from '../../server/integrations/health.ts';
import type * as rest from '../../server/schemas.ts';

export type {
  DetectionsMessage as Detections,
  PersonEventMessage,
  PreviewMeta,
  PublishAck,
  SubscribeAck,
  TrackedFaceMessage as TrackedFace,
  WebcamEnded,
} from '../../server/live/protocol.ts';
export type { BoxArray } from '../../server/wire.ts';

export type FacebankImage = z.output<typeof rest.FacebankImage>;
/** An image's analysis (facebank/types.ts). */
export type ImageStatus = FacebankImage['status'];
export type Person = z.output<typeof rest.Person>;
export type CameraHealth = z.output<typeof rest.CameraHealth>;
export type Camera = z.output<typeof rest.Camera>;
/** PATCH /api/cameras/{id}. */
export type CameraPatch = z.input<typeof rest.CameraPatch>;
/** A mask or the detection region: a rectangle or a polygon, 0..1 of the frame (streams/motion/shapes.ts). */
export type Shape = Camera['masks'][number];
export type NegativeExample = z.output<typeof rest.NegativeExample>;
export type UnknownCluster = z.output<typeof rest.UnknownCluster>;
export type OperatingPoint = z.output<typeof rest.OperatingPoint>;
/** GET /api/health `integrations` (server/integrations/health.ts). */
export type IntegrationsHealth = z.output<typeof IntegrationsHealthSchema>;
export type Health = z.output<typeof rest.Health>;
/** GET /api/health `cluster` when DATABASE_URL is set (server/cluster/status.ts). */
export type ClusterHealth = Extract<Health['cluster'], { enabled: true }>;
export type CameraLease = ClusterHealth['cameras'][number];
