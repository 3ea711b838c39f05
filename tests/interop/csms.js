// A strict OCPP 1.6J or 2.0.1 CSMS on ocpp-rpc, an implementation independent of the Python
// `ocpp` package: tests/test_interop_ocpp_rpc.py runs evsed against it.
// `node csms.js [ocpp1.6|ocpp2.0.1]` (default ocpp1.6) chooses the protocol it serves.
//
// strictMode validates every CALL the station sends and every CALLRESULT it returns against
// ocpp-rpc's own schemas of that version; a failure is answered per the spec and reported here.
//
// stdout, one JSON object per line:
//   {"event":"listening","port":N}
//   {"event":"connected","identity":..,"protocol":..}
//   {"event":"call","action":..,"payload":..,"response":..}        a CALL from the station, answered
//   {"event":"result","id":..,"action":..,"response":..}            the station's answer to a command
//   {"event":"error","id":..,"action":..,"code":..,"message":..}    ... or its CALLERROR / no answer
//   {"event":"strictValidationFailure"|"badMessage"|"callError", ...}   anything non-conforming
//   {"event":"disconnected","identity":..}
// stdin, one JSON command per line: {"id":n,"action":"RemoteStartTransaction","payload":{..}},
// sent to the connected station as a CSMS-initiated CALL.
"use strict";

const readline = require("node:readline");
const { RPCServer, createRPCError } = require("ocpp-rpc");

const ACCEPTED_TAGS = new Set(["TAG1"]);
const PROTOCOL = process.argv[2] || "ocpp1.6";
let nextTransactionId = 1000; // not 1: a station that guesses the id shows up

const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const now = () => new Date().toISOString();
const idTagInfo = (idTag) => ({ status: ACCEPTED_TAGS.has(idTag) ? "Accepted" : "Invalid" });

const tokenInfo = (idToken) => ({ status: ACCEPTED_TAGS.has(idToken.idToken) ? "Accepted" : "Invalid" });

const answers16 = {
  BootNotification: () => ({ status: "Accepted", currentTime: now(), interval: 300 }),
  Heartbeat: () => ({ currentTime: now() }),
  StatusNotification: () => ({}),
  MeterValues: () => ({}),
  Authorize: ({ idTag }) => ({ idTagInfo: idTagInfo(idTag) }),
  StartTransaction: ({ idTag }) => ({ transactionId: nextTransactionId++, idTagInfo: idTagInfo(idTag) }),
  StopTransaction: ({ idTag }) => (idTag === undefined ? {} : { idTagInfo: idTagInfo(idTag) }),
  DataTransfer: () => ({ status: "UnknownVendorId" }),
  DiagnosticsStatusNotification: () => ({}),
  FirmwareStatusNotification: () => ({}),
  SecurityEventNotification: () => ({}), // the 1.6 security whitepaper's; ocpp-rpc has its schema
};

const answers201 = {
  BootNotification: () => ({ status: "Accepted", currentTime: now(), interval: 300 }),
  Heartbeat: () => ({ currentTime: now() }),
  StatusNotification: () => ({}),
  NotifyEvent: () => ({}),
  NotifyReport: () => ({}),
  SecurityEventNotification: () => ({}),
  MeterValues: () => ({}),
  Authorize: ({ idToken }) => ({ idTokenInfo: tokenInfo(idToken) }),
  TransactionEvent: ({ idToken }) => (idToken === undefined ? {} : { idTokenInfo: tokenInfo(idToken) }),
  FirmwareStatusNotification: () => ({}),
  LogStatusNotification: () => ({}),
  NotifyCustomerInformation: () => ({}),
};

const answers = { "ocpp1.6": answers16, "ocpp2.0.1": answers201 }[PROTOCOL];

async function main() {
  const server = new RPCServer({ protocols: [PROTOCOL], strictMode: true });
  let station = null;

  server.on("client", (client) => {
    station = client;
    emit({ event: "connected", identity: client.identity, protocol: client.protocol });
    client.on("strictValidationFailure", ({ error, messageId, method, params, result, outbound, isCall }) =>
      emit({ event: "strictValidationFailure", error: String(error), messageId, method, params, result, outbound, isCall }),
    );
    client.on("badMessage", ({ buffer, error }) =>
      emit({ event: "badMessage", text: buffer.toString(), error: String(error) }),
    );
    client.on("callError", ({ method, params, error, outbound }) =>
      emit({ event: "callError", method, params, outbound, code: error.rpcErrorCode, message: error.message }),
    );
    client.on("close", () => {
      if (station === client) station = null;
      emit({ event: "disconnected", identity: client.identity });
    });
    for (const [action, answer] of Object.entries(answers)) {
      client.handle(action, ({ params }) => {
        const response = answer(params);
        emit({ event: "call", action, payload: params, response });
        return response;
      });
    }
    client.handle(({ method }) => {
      emit({ event: "unexpected", action: method });
      throw createRPCError("NotImplemented");
    });
  });

  const http = await server.listen(0, "127.0.0.1");
  emit({ event: "listening", port: http.address().port });

  for await (const line of readline.createInterface({ input: process.stdin })) {
    const { id, action, payload } = JSON.parse(line);
    if (station === null) {
      emit({ event: "error", id, action, code: "NoStation", message: "no station connected" });
      continue;
    }
    station.call(action, payload).then(
      (response) => emit({ event: "result", id, action, response }),
      (error) => emit({ event: "error", id, action, code: error.rpcErrorCode ?? error.name, message: error.message }),
    );
  }
  await server.close({ force: true });
}

main().catch((error) => {
  emit({ event: "fatal", message: String(error && error.stack) });
  process.exit(1);
});
