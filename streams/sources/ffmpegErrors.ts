// ffmpeg's failures as a typed error, and its stderr lines in clear words for camera health and the API.
import { CodedError } from '../../models/codedError.ts';

export type FfmpegErrorCode = 'not_found' | 'failed' | 'timeout';

export class FfmpegError extends CodedError<FfmpegErrorCode> {
  override name = 'FfmpegError';
  constructor(
    code: FfmpegErrorCode,
    message: string,
    /** ffmpeg's last stderr lines, credentials redacted. */
    readonly stderr: readonly string[] = [],
  ) {
    super(code, message);
  }
}

// Decoder chatter on a lossy stream: not the reason a process ended.
const NOISE =
  /corrupt decoded frame|concealing|error while decoding|non monotonically|Last message repeated|missed \d+ packets|max delay reached|decode_slice_header|no frame!|Past duration|Invalid NAL|deprecated pixel format|Guessed Channel Layout|Dropping|Stream ends prematurely|RTP: PT=|Estimating duration/i;
const ERRORISH =
  /error|fail|refused|not found|no such|denied|invalid|unsupported|unknown|cannot|could not|unable|timed out|timeout|reset by peer|broken pipe|end of file|unauthorized|forbidden|matches no streams|does not contain/i;

/** True for a stderr line that can explain why ffmpeg stopped. */
export function isMeaningfulError(line: string): boolean {
  return ERRORISH.test(line) && !NOISE.test(line);
}

// Known error lines → clear words. Order matters: the first rule that matches a line wins.
const RULES: Array<[RegExp, (m: RegExpExecArray) => string]> = [
  [/Connection refused/i, () => 'connection refused'],
  [/\b404 Not Found/i, () => 'stream not found (404)'],
  [/\b401 Unauthorized/i, () => 'authentication failed (401): check the user name and password'],
  [/\b403 Forbidden/i, () => 'access denied (403)'],
  [/timed out/i, () => 'timed out'],
  [/No route to host|Network is unreachable/i, () => 'host unreachable'],
  [
    /Name or service not known|Failed to resolve|nodename nor servname|Temporary failure in name resolution/i,
    () => 'host name not found',
  ],
  [/Connection reset by peer|Broken pipe|End of file/i, () => 'connection lost'],
  [/Decoder \(codec (\S+)\) not found/i, (m) => `unsupported codec ${m[1]}`],
  [/Unsupported codec(?: with id \d+)?(?: for input stream #?\S+)?(.*)/i, (m) => `unsupported codec${m[1] ?? ''}`],
  [/No such file or directory/i, () => 'file not found'],
  [/Could not find codec parameters/i, () => 'could not read the video (no decodable frame: unsupported codec?)'],
  [/Permission denied/i, () => 'permission denied'],
  [/matches no streams|does not contain any stream/i, () => 'no video stream'],
  [/Invalid data found when processing input/i, () => 'not a playable video (invalid data or unsupported format)'],
  [/moov atom not found/i, () => 'not a playable video (no index: an incomplete or corrupt MP4)'],
  [/Server returned (\d{3}.*)$/i, (m) => `server returned ${m[1]}`],
  [/method \w+ failed: (.*)$/i, (m) => `server returned ${m[1]}`],
];

function explainKnown(line: string): string | undefined {
  for (const [pattern, say] of RULES) {
    const m = pattern.exec(line);
    if (m) return say(m);
  }
  return undefined;
}

/** One ffmpeg error line (credentials already redacted) in short, clear words. */
export function explainFfmpegError(line: string): string {
  // Unknown: ffmpeg's own words, without the "[tcp @ 0x55…]" prefix.
  return explainKnown(line) ?? line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '');
}

/**
 * ffmpeg's error lines of one run → clear words: the first line a rule knows (a demuxer's detail line often comes
 * before the one that says what is wrong), else the first line as it is.
 */
export function explainFfmpegErrors(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const known = explainKnown(line);
    if (known) return known;
  }
  return lines[0] === undefined ? undefined : explainFfmpegError(lines[0]);
}
