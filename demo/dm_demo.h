/* dm_demo: the `demo` command: the whole pipeline on librdkafka's mock
 * cluster and the receiver (demo/receiver), its webhooks created through
 * the management API; no services needed. */
#ifndef HB_DM_DEMO_H
#define HB_DM_DEMO_H

/**
 * @brief `demo`: start a worker with the management API, create two
 *        apps' webhooks through it, produce one event of every kind of
 *        each app, deliver them to the receiver, print what arrived and
 *        what was committed.
 * @returns 0 when every webhook call arrived, verified, at its own app's
 *          receiver only, and every offset is committed; 1 otherwise;
 *          WK_EXIT_USAGE on a usage error.
 */
int dm_cmd_demo(int argc, char **argv);

#endif
