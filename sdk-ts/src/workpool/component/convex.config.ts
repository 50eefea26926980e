// The workpool component definition. emvex recognises this file (package
// `emvex`, directory `dist/workpool/component`) and mounts its native
// workpool implementation in its place, so the definition has no functions
// and no child components of its own.
import { defineComponent } from "convex/server";

const workpool = defineComponent("workpool");

export default workpool;
