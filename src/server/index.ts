export { STATUS_BY_CODE, approvalApp } from './approval-app.js';
export { serveApprovals } from './serve-approvals.js';
