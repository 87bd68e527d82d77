/**
 * The leader's side of Raft: log replication with batching, pipelining and flow control
 * (§5.3), the commit rule (§5.4.2), check-quorum, ReadIndex (dissertation §6.4),
 * leadership transfer (§3.10) and the leader's part of membership changes (§4).
 */
import { decodeConfChange, confChangeProblem } from "./conf-change.js";
import { majorityIndex, isQuorum } from "./quorum.js";
import { entryBytes } from "./raft-log.js";
import type { Raft } from "./raft.js";
import type { ReadRequest } from "./read-only.js";
import type { ConfChange, Entry, Message, NodeId, ProposeResult } from "./types.js";
import { limits } from "../../../common/limits.js";

const emptyData = new Uint8Array(0);
const decoder = new TextDecoder();

export function initialize(r: Raft): void {
  r.tracker.reset(r.conf, r.log.lastIndex() + 1);
  const self = r.tracker.get(r.id);
  if (self !== undefined) {
    self.match = r.log.stabled;
    self.becomeReplicate();
    self.recentActive = true;
  }
  // Every entry already in the log may hold a conf change; none may follow until they apply.
  r.pendingConfIndex = r.log.lastIndex();
  // §5.4.2 / §8: commit an entry of this term at once, which also commits the earlier ones.
  r.log.append([{ term: r.term, index: r.log.lastIndex() + 1, type: "normal", data: emptyData }]);
}

export function becomeLeaderAndAnnounce(r: Raft): void {
  r.becomeLeader();
  r.appendsPending = true;
}

// ---- ticks: heartbeats, check-quorum, transfer timeout -----------------------------------

export function tick(r: Raft): void {
  r.leaderTicks++;
  r.heartbeatElapsed++;
  r.electionElapsed++;
  r.transferElapsed++;
  if (r.electionElapsed >= r.config.electionTicks) {
    r.electionElapsed = 0;
    if (r.config.checkQuorum && !checkQuorumActive(r)) {
      r.becomeFollower(r.term, null);
      return;
    }
  }
  // Dissertation §3.10: abort a transfer that did not complete within an election timeout.
  if (r.leadTransferee !== null && r.transferElapsed >= r.config.electionTicks) r.leadTransferee = null;
  if (r.heartbeatElapsed >= r.config.heartbeatTicks) {
    r.heartbeatElapsed = 0;
    broadcastHeartbeat(r, r.readOnly.lastContext());
  }
}

/**
 * A heartbeat round now, ahead of the tick that would send it (etcd's MsgBeat), restarting
 * the heartbeat interval: for a leader about to pause (a requested garbage collection), so
 * that its followers' election timers start afresh just before the pause.
 */
export function heartbeatNow(r: Raft): void {
  r.heartbeatElapsed = 0;
  broadcastHeartbeat(r, r.readOnly.lastContext());
}

/** Check-quorum: true when a majority of voters was heard from since the last round; resets the marks. */
function checkQuorumActive(r: Raft): boolean {
  const active = isQuorum(r.conf.voters, (id) => id === r.id || r.tracker.get(id)?.recentActive === true);
  for (const [id, pr] of r.tracker.progress) pr.recentActive = id === r.id;
  return active;
}

// ---- sending --------------------------------------------------------------------------

function peers(r: Raft): NodeId[] {
  return [...r.tracker.progress.keys()].filter((id) => id !== r.id);
}

/**
 * Sends `to` the next batch of entries (at most maxMsgBytes, at least one), or a snapshot
 * when its next entry was compacted away. Returns whether a message was sent.
 */
export function sendAppend(r: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.tracker.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  if (prevTerm === undefined || pr.next < r.log.firstIndex()) return sendSnapshot(r, to);
  const entries = r.log.slice(pr.next, r.log.lastIndex() + 1, r.config.maxMsgBytes);
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({ type: "append", to, index: prevIndex, logTerm: prevTerm, entries, commit: r.log.committed });
  pr.sentEntries(entries.length, prevIndex + entries.length);
  return true;
}

function sendSnapshot(r: Raft, to: NodeId): boolean {
  const pr = r.tracker.get(to);
  const snapshot = r.log.latestSnapshot;
  if (pr === undefined || snapshot === null)
    throw new Error(
      `no snapshot to send to ${to} next=${pr?.next} match=${pr?.match} state=${pr?.state} last=${r.log.lastIndex()} first=${r.log.firstIndex()} term=${r.term} id=${r.id}`,
    );
  // A follower not heard from lately is probably down: don't start a transfer for nothing.
  if (!pr.recentActive) return false;
  pr.becomeSnapshot(snapshot.index);
  r.send({ type: "snapshot", to, snapshot });
  return true;
}

/** Sends every peer what it lacks: a first append (empty ones carry the commit index), then more while its window allows. */
export function broadcastAppend(r: Raft): void {
  for (const id of peers(r)) {
    sendAppend(r, id, true);
    fillWindow(r, id);
  }
}

/** Pipelining: keeps sending batches to `to` while its inflight window has room and entries remain. */
function fillWindow(r: Raft, to: NodeId): void {
  for (let i = 0; i < r.config.maxInflightMsgs && sendAppend(r, to, false); i++);
}

function broadcastHeartbeat(r: Raft, context: Uint8Array): void {
  for (const id of peers(r)) {
    const pr = r.tracker.get(id);
    // Never tell a follower to commit past what it is known to hold.
    const commit = Math.min(pr?.match ?? 0, r.log.committed);
    r.send({ type: "heartbeat", to: id, commit, context, index: r.leaderTicks });
  }
}

/** Called when building a Ready: one broadcast covers every proposal since the last one. */
export function flushAppends(r: Raft): void {
  if (r.role !== "leader" || !r.appendsPending) return;
  r.appendsPending = false;
  broadcastAppend(r);
}

function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.leaseUsable = false;
  r.send({ type: "timeoutNow", to });
}

// ---- commit (§5.4.2) -------------------------------------------------------------------

/**
 * Advances the commit index to the highest index stored on a majority of voters, but only
 * if that entry is of the current term (Figure 8): older entries commit indirectly.
 */
export function maybeCommit(r: Raft): boolean {
  const index = majorityIndex(r.conf.voters, (id) => r.tracker.get(id)?.match ?? 0);
  if (index <= r.log.committed || r.log.term(index) !== r.term) return false;
  r.log.commitTo(index);
  r.appendsPending = true;
  releaseReadsAwaitingCommit(r);
  return true;
}

export function committedInCurrentTerm(r: Raft): boolean {
  return r.log.term(r.log.committed) === r.term;
}

/** The leader persisted its log up to `stabled` (RawNode.advance). */
export function selfPersisted(r: Raft): void {
  const self = r.tracker.get(r.id);
  if (self !== undefined && self.maybeUpdate(r.log.stabled)) maybeCommit(r);
}

// ---- step ---------------------------------------------------------------------------------

export function step(r: Raft, m: Message): void {
  switch (m.type) {
    case "propose":
      if (m.from !== r.id) propose(r, m.entries);
      return;
    case "appendResp":
      handleAppendResp(r, m);
      return;
    case "heartbeatResp":
      handleHeartbeatResp(r, m);
      return;
    case "readIndex":
      handleReadIndex(r, { index: 0, context: m.context, from: m.from });
      return;
    case "transferLeader":
      transfer(r, decoder.decode(m.context));
      return;
    case "append":
    case "heartbeat":
    case "snapshot":
      // Another leader of our own term cannot exist (§5.2 election safety): drop it.
      return;
    case "vote":
    case "preVote":
    case "voteResp":
    case "preVoteResp":
    case "readIndexResp":
    case "timeoutNow":
      return; // late answers of an earlier role, or requests handled in Raft.step
  }
}

// ---- proposals ----------------------------------------------------------------------------

export function propose(r: Raft, entries: readonly Entry[]): ProposeResult {
  if (r.leadTransferee !== null) return { ok: false, reason: "transferring" };
  if (!r.tracker.get(r.id)) return { ok: false, reason: "dropped" };
  for (const entry of entries) {
    if (entry.type !== "confChange") continue;
    const refused = confChangeRefusal(r, entry);
    if (refused !== null) return { ok: false, reason: refused };
  }
  let bytes = 0;
  for (const entry of entries) bytes += entryBytes(entry);
  // Flow control: always admit something when nothing is uncommitted, so one large entry
  // cannot be starved forever.
  if (r.uncommittedBytes > 0 && r.uncommittedBytes + bytes > r.config.maxUncommittedBytes) {
    return { ok: false, reason: "dropped" };
  }
  r.uncommittedBytes += bytes;
  const stamped = entries.map((entry, i) => ({
    term: r.term,
    index: r.log.lastIndex() + 1 + i,
    type: entry.type,
    data: entry.data,
  }));
  r.log.append(stamped);
  for (const entry of stamped) if (entry.type === "confChange") r.pendingConfIndex = entry.index;
  r.appendsPending = true;
  return { ok: true };
}

/** One change at a time (§4.1), after the previous one applied and after a commit in this term. */
function confChangeRefusal(r: Raft, entry: Entry): "confChangePending" | "invalidConfChange" | null {
  if (r.pendingConfIndex > r.log.applied || !committedInCurrentTerm(r)) return "confChangePending";
  let change: ConfChange;
  try {
    change = decodeConfChange(entry.data); // a forwarded entry comes from the network
  } catch {
    return "invalidConfChange";
  }
  return confChangeProblem(r.conf, change) === null ? null : "invalidConfChange";
}

// ---- responses ----------------------------------------------------------------------------

function handleAppendResp(r: Raft, m: Message): void {
  const pr = r.tracker.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  if (m.reject) {
    // Fast backtracking (§5.3): skip every entry of the follower's conflicting term at once.
    const hint =
      m.rejectTermHint > 0 ? r.log.findConflictByTerm(m.rejectHint, m.rejectTermHint).index : m.rejectHint;
    if (pr.maybeDecrTo(m.index, hint)) {
      if (pr.state === "replicate") pr.becomeProbe();
      sendAppend(r, m.from, true);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  const updated = pr.maybeUpdate(m.index);
  if (!updated && !(pr.match === m.index && pr.state === "probe")) return;
  if (pr.state === "probe") pr.becomeReplicate();
  else if (pr.state === "snapshot" && pr.match + 1 >= r.log.firstIndex()) pr.becomeReplicate();
  else if (pr.state === "replicate") pr.inflights.freeUpTo(m.index);
  if (!maybeCommit(r) && wasPaused) sendAppend(r, m.from, false);
  fillWindow(r, m.from);
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}

function handleHeartbeatResp(r: Raft, m: Message): void {
  const pr = r.tracker.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  pr.probeSent = false;
  if (m.index <= r.leaderTicks) pr.leaseAckTick = Math.max(pr.leaseAckTick, m.index);
  // An append (or its answer) may have been lost: free a slot so replication can resume.
  if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirst();
  if (pr.match < r.log.lastIndex()) sendAppend(r, m.from, true);
  if (m.context.length > 0) ackRead(r, m.from, m.context);
}

// ---- ReadIndex (dissertation §6.4) ------------------------------------------------------

/**
 * Step 1: a leader that has not committed in its term does not know the commit index yet,
 * so the request waits (bounded). Steps 2–3: record the commit index and confirm
 * leadership with a heartbeat round carrying the request's context (or, with leaseRead,
 * rely on the check-quorum lease).
 */
export function handleReadIndex(r: Raft, request: ReadRequest): void {
  if (!committedInCurrentTerm(r)) {
    if (r.readsAwaitingCommit.length < limits.raftPendingReadsMax) r.readsAwaitingCommit.push(request);
    return;
  }
  const pinned: ReadRequest = { ...request, index: r.log.committed };
  if (r.conf.voters.length === 1 && r.conf.voters[0] === r.id) {
    answerRead(r, pinned);
  } else if (r.config.leaseRead && leaseValid(r)) {
    answerRead(r, pinned);
  } else if (r.readOnly.size < limits.raftPendingReadsMax && r.readOnly.add(pinned)) {
    ackRead(r, r.id, pinned.context);
    broadcastHeartbeat(r, pinned.context);
  }
}

/**
 * Dissertation §6.4.1: a follower that acknowledged a heartbeat sent at leader tick s
 * ignores vote requests until at least s + electionTicks (check-quorum leases), so no other
 * leader can exist before the quorum's oldest such s plus that. The lease is granted for
 * half of it, leaving room for clock drift; it assumes the driver delivers the ticks of
 * all elapsed time (catching up after a stall) and never after a timeoutNow was sent.
 */
function leaseValid(r: Raft): boolean {
  if (!r.leaseUsable || r.leadTransferee !== null) return false;
  const quorumAck = majorityIndex(r.conf.voters, (id) =>
    id === r.id ? r.leaderTicks : (r.tracker.get(id)?.leaseAckTick ?? -1),
  );
  return quorumAck >= 0 && r.leaderTicks - quorumAck < Math.floor(r.config.electionTicks / 2);
}

function releaseReadsAwaitingCommit(r: Raft): void {
  if (r.readsAwaitingCommit.length === 0 || !committedInCurrentTerm(r)) return;
  const waiting = r.readsAwaitingCommit.splice(0);
  for (const request of waiting) handleReadIndex(r, request);
}

function ackRead(r: Raft, from: NodeId, context: Uint8Array): void {
  const acks = r.readOnly.recvAck(from, context);
  if (acks === null || !isQuorum(r.conf.voters, (id) => acks.has(id))) return;
  for (const request of r.readOnly.release(context)) answerRead(r, request);
}

function answerRead(r: Raft, request: ReadRequest): void {
  if (request.from === r.id) r.readStates.push({ index: request.index, context: request.context });
  else r.send({ type: "readIndexResp", to: request.from, index: request.index, context: request.context });
}

// ---- leadership transfer (dissertation §3.10) --------------------------------------------

export function transfer(r: Raft, to: NodeId): void {
  if (to === r.id || !r.isVoter(to)) return;
  if (r.leadTransferee === to) return;
  r.leadTransferee = to;
  // The transfer aborts if it has not completed within an election timeout (see tick).
  r.transferElapsed = 0;
  const pr = r.tracker.get(to);
  if (pr === undefined) return;
  if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
  else sendAppend(r, to, true);
}

// ---- membership (dissertation §4) ---------------------------------------------------------

export function onConfChanged(r: Raft): void {
  r.tracker.sync(r.conf, r.log.lastIndex() + 1);
  if (!r.isVoter(r.id)) {
    stepDownAfterRemoval(r);
    return;
  }
  if (r.leadTransferee !== null && !r.isVoter(r.leadTransferee)) r.leadTransferee = null;
  // A smaller quorum may commit more at once.
  maybeCommit(r);
  r.appendsPending = true;
}

/**
 * The change removing this leader is committed and applied (dissertation §4.2.2): hand
 * leadership to the most up-to-date voter at once, then step down. The successor may not
 * know yet that the removal committed; it then campaigns in the configuration before it,
 * which is safe because the two configurations differ by one server.
 */
function stepDownAfterRemoval(r: Raft): void {
  let best: NodeId | null = null;
  let bestMatch = -1;
  for (const id of r.conf.voters) {
    const match = r.tracker.get(id)?.match ?? 0;
    if (match > bestMatch) [best, bestMatch] = [id, match];
  }
  if (best !== null && bestMatch === r.log.lastIndex()) sendTimeoutNow(r, best);
  r.becomeFollower(r.term, null);
}

export function reportUnreachable(r: Raft, id: NodeId): void {
  const pr = r.tracker.get(id);
  if (pr?.state === "replicate") pr.becomeProbe();
}

export function reportSnapshot(r: Raft, id: NodeId, ok: boolean): void {
  const pr = r.tracker.get(id);
  if (pr === undefined || pr.state !== "snapshot") return;
  if (!ok) pr.pendingSnapshot = 0;
  pr.becomeProbe();
  // Wait for the follower's answer (or the next heartbeat response) before probing.
  pr.probeSent = true;
}
