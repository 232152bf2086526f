// Preloaded into dw-host by the test harness: records the process's peak RSS (KiB) at exit.
import { writeFileSync } from 'node:fs';

const file = process.env['DW_TEST_MAX_RSS_FILE'];
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
