// The IAM policy simulator of the local cloud's access check, as a long-lived process.
// One JSON request a line on stdin, one JSON answer a line on stdout, in order:
// {"principal", "action", "resource", "account", "context", "identity": {name: policy},
//  "resourcePolicy": policy|null} -> {"result", "errors", "allowed": [[policy, statement,
// [actions], [resources]]]} with the identity statements that allowed the request.
'use strict'
const readline = require('node:readline')
const { runSimulation } = require('@cloud-copilot/iam-simulate')

function allowedBy(result) {
  const statements = result?.analysis?.identityAnalysis?.allowStatements || []
  return statements.map((s) => [
    s.policyId || '',
    s.explain?.identifier || '',
    [].concat(s.explain?.actions || []).filter((a) => a.matches).map((a) => a.action),
    [].concat(s.explain?.resources || []).filter((r) => r.matches).map((r) => r.resource)
  ])
}

async function answer(request) {
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.account },
      contextVariables: request.context || {}
    },
    identityPolicies: Object.entries(request.identity || {}).map(([name, policy]) => ({
      name,
      policy
    })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy || undefined
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { result: 'Error', errors: JSON.stringify(response.errors).slice(0, 2000), allowed: [] }
  }
  const result = response.resultType === 'single' ? response.result : response.results[0]
  return { result: response.overallResult, errors: null, allowed: allowedBy(result) }
}

const lines = readline.createInterface({ input: process.stdin })
let chain = Promise.resolve()
lines.on('line', (line) => {
  chain = chain.then(async () => {
    let out
    try {
      out = await answer(JSON.parse(line))
    } catch (error) {
      out = { result: 'Error', errors: String(error && error.stack ? error.stack : error), allowed: [] }
    }
    process.stdout.write(JSON.stringify(out) + '\n')
  })
})
