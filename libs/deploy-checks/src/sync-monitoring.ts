// `npm run sync-monitoring -w @stocklab/deploy-checks`: regenerates the chart's and kustomize's
// copies of deploy/prometheus/stocklab-rules.yaml and deploy/grafana/stocklab.json.
import { writeMonitoringCopies } from './monitoring-copies.js';

const written = writeMonitoringCopies();
process.stdout.write(written.length > 0 ? `written: ${written.join(', ')}\n` : 'every copy is up to date\n');
