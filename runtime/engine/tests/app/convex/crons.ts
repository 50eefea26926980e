import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();
crons.interval("clear messages", { minutes: 5 }, internal.messages.clear, {});
export default crons;
