ALTER TABLE "settings" ADD COLUMN "signin_ip_failure_limit" integer DEFAULT 100 NOT NULL;--> statement-breakpoint
ALTER TABLE "settings" ADD COLUMN "signin_ip_window_seconds" integer DEFAULT 900 NOT NULL;--> statement-breakpoint
ALTER TABLE "settings" ADD COLUMN "signin_account_lockout_seconds" integer DEFAULT 60 NOT NULL;--> statement-breakpoint
ALTER TABLE "settings" ADD COLUMN "signin_account_max_lockout_seconds" integer DEFAULT 900 NOT NULL;--> statement-breakpoint
ALTER TABLE "settings" ADD COLUMN "signin_account_window_seconds" integer DEFAULT 43200 NOT NULL;--> statement-breakpoint
UPDATE "settings" SET "signin_ip_window_seconds" = "signin_window_seconds";--> statement-breakpoint
-- 30 attempts per address locked whole offices out; rows still at that old default take the new ceiling.
UPDATE "settings" SET "signin_ip_limit" = 1000 WHERE "signin_ip_limit" = 30;--> statement-breakpoint
ALTER TABLE "settings" DROP COLUMN "signin_window_seconds";--> statement-breakpoint
ALTER TABLE "settings" ALTER COLUMN "signin_ip_limit" SET DEFAULT 1000;