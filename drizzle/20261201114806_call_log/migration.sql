-- Hand-written: the call log is partitioned by day on started_at. The gateway creates the partitions
-- (call_log_pYYYYMMDD) ahead of time and retention drops whole ones (src/domain/call-log-store.ts).
CREATE TABLE "call_log" (
	"id" bigserial,
	"method_id" text NOT NULL,
	"user_id" bigint,
	"credential_kind" text,
	"credential_id" text,
	"client_address" text,
	"started_at" timestamp with time zone,
	"duration_ms" double precision NOT NULL,
	"status" integer NOT NULL,
	"status_text" text NOT NULL,
	"is_error" boolean NOT NULL,
	"is_exception" boolean NOT NULL,
	"is_declined" boolean NOT NULL,
	"declined_by" text,
	CONSTRAINT "call_log_pkey" PRIMARY KEY("started_at","id")
) PARTITION BY RANGE ("started_at");
--> statement-breakpoint
CREATE INDEX "call_log_method_id_started_at_index" ON "call_log" ("method_id","started_at");--> statement-breakpoint
CREATE INDEX "call_log_user_id_index" ON "call_log" ("user_id");--> statement-breakpoint
ALTER TABLE "call_log" ADD CONSTRAINT "call_log_user_id_users_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL;